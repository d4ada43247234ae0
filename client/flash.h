/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The options `flash` and `rule add` share: how to write an image, and what to send for it. */

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-bus.h>

#include "bus.h"
#include "patch.h"

/* dbus-daemon passes at most 16 file descriptors in one message (its max_message_unix_fds, whose
 * built-in default neither the system nor the session configuration raises); a message with more
 * makes it drop the connection. Each image is one descriptor. */
#define IMAGES_MAX 16u

/* Detached signatures, one per image in order (size 0: none), sent as the option "signatures". */
typedef struct FlashSignatures {
        const char *files[IMAGES_MAX]; /* --signature, in order */
        size_t n_files;
        uint8_t *data[IMAGES_MAX];
        size_t size[IMAGES_MAX];
        size_t n; /* 0: send none */
} FlashSignatures;

typedef struct FlashOptions {
        const char *port, *serial, *station, *part;
        bool all, wait, no_block;
        int verify; /* -1: the daemon's default */
        bool no_leave, strict, mass_erase, skip_identical, skip_blank, allow_option_bytes, unprotect;
        bool lock, allow_permanent_lock, yes_permanent;
        const char *option_bytes;
        bool have_base, have_timeout;
        uint64_t base, timeout;
        FlashSignatures *signatures; /* NULL: none */
        Patch patches[PATCH_MAX];
        size_t n_patches;
        bool patch_erase;
} FlashOptions;

#define FLASH_OPTIONS_INIT \
        { .verify = -1 }

enum {
        OPT_PORT = 0x100,
        OPT_SERIAL,
        OPT_STATION,
        OPT_ALL,
        OPT_WAIT,
        OPT_PART,
        OPT_STRICT,
        OPT_VERIFY,
        OPT_NO_VERIFY,
        OPT_NO_LEAVE,
        OPT_MASS_ERASE,
        OPT_SKIP_IDENTICAL,
        OPT_SKIP_BLANK,
        OPT_ALLOW_OPTION_BYTES,
        OPT_BASE,
        OPT_NO_BLOCK,
        OPT_TIMEOUT,
        OPT_MATCH,
        OPT_EVERY_TIME,
        OPT_SINCE,
        OPT_LIMIT,
        OPT_HELP,
        OPT_SIGNATURE,
        OPT_UNPROTECT,
        OPT_LOCK,
        OPT_ALLOW_PERMANENT_LOCK,
        OPT_YES_PERMANENT,
        OPT_OPTION_BYTES,
        OPT_PATCH,
        OPT_PATCH_ERASE,
};

/* How to write: shared by flash and rule add. */
// clang-format off
#define WRITE_LONG_OPTIONS                                                       \
        {"part", required_argument, NULL, OPT_PART},                             \
        {"strict", no_argument, NULL, OPT_STRICT},                               \
        {"verify", no_argument, NULL, OPT_VERIFY},                               \
        {"no-verify", no_argument, NULL, OPT_NO_VERIFY},                         \
        {"no-leave", no_argument, NULL, OPT_NO_LEAVE},                           \
        {"mass-erase", no_argument, NULL, OPT_MASS_ERASE},                       \
        {"skip-identical", no_argument, NULL, OPT_SKIP_IDENTICAL},               \
        {"skip-blank", no_argument, NULL, OPT_SKIP_BLANK},                       \
        {"allow-option-bytes", no_argument, NULL, OPT_ALLOW_OPTION_BYTES},       \
        {"base", required_argument, NULL, OPT_BASE},                             \
        {"signature", required_argument, NULL, OPT_SIGNATURE},                   \
        {"unprotect", no_argument, NULL, OPT_UNPROTECT},                         \
        {"lock", no_argument, NULL, OPT_LOCK},                                   \
        {"allow-permanent-lock", no_argument, NULL, OPT_ALLOW_PERMANENT_LOCK},   \
        {"yes-permanent", no_argument, NULL, OPT_YES_PERMANENT},                 \
        {"option-bytes", required_argument, NULL, OPT_OPTION_BYTES}, \
        {"patch", required_argument, NULL, OPT_PATCH},                           \
        {"patch-erase", no_argument, NULL, OPT_PATCH_ERASE}
// clang-format on

/* Handles one option of WRITE_LONG_OPTIONS or flash's targets: 1 when it was one, 0 when it was
 * not, -EINVAL for a bad argument (already printed). */
int flash_options_parse_option(int c, const char *arg, FlashOptions *o);

/* RDP level 2 is for good: with --allow-permanent-lock and rdp=2 in --option-bytes, asks for the word
 * PERMANENT on a terminal unless --yes-permanent; refuses without a terminal. An exit status. */
int flash_options_confirm_permanent(const FlashOptions *o, const char *verb);

/* --signature FILE: one more signature file (in image order); 1, or -EINVAL (printed). */
int flash_signatures_add_file(FlashSignatures *s, const char *path);
/* Reads the signatures of images paths: the --signature files (one per image), or else IMAGE.sig beside
 * each image where there is one. Returns an exit status (printed). */
int flash_signatures_load(FlashSignatures *s, const DfusctlContext *ctx, char *const *paths, size_t n);
void flash_signatures_done(FlashSignatures *s);
/* Appends {"signatures": aay} when there is any. */
int flash_signatures_append(sd_bus_message *m, const FlashSignatures *s);
/* --patch ADDRESS:FORMAT:SEQUENCE, checked here so that a typo is told before anything is sent. */
int flash_options_add_patch(FlashOptions *o, const char *arg);

/* Appends the a{sv} entries (inside an open array) for the options; targets: also port, serial,
 * station, wait and timeout. */
int flash_options_append(sd_bus_message *m, const FlashOptions *o, bool targets);

/* Opens every image ("-" is standard input) with remote_open_input(); prints which one failed.
 * Returns an exit status. */
int images_open(const DfusctlContext *ctx, char **paths, size_t n, int **ret_fds);
void images_close(int *fds, size_t n);
/* images_open(), then bus_connect_inputs(): the images and a bus that can carry them. More than
 * IMAGES_MAX images are refused (EXIT_USAGE) before anything is opened. On failure closes what it
 * opened (*ret_bus may still be set). With -H the command has run on the host by the time this
 * returns: its exit status, with *ret_bus NULL. Returns an exit status. */
int images_open_connect(const DfusctlContext *ctx, char **paths, size_t n, int **ret_fds, sd_bus **ret_bus);
/* A call of the Manager's method (Submit, Inspect, AddRule) with the images as its "ah" argument and
 * its a{sv} opened for the caller's entries: the caller closes it. */
int images_method_new(sd_bus *bus, const char *method, const int *fds, size_t n_fds, sd_bus_message **ret);

/* Prints the segments that were dropped or rejected, with their reasons, on stderr: reports[i] is
 * the Report of the job on the board labels[i]; a line shared by several boards is printed once.
 * paths name the images in the order they were passed ("image 2" is paths[1]). */
void report_print_warnings(json_object *const *reports, const char *const *labels, size_t n,
                           char *const *paths, size_t n_paths);

/* The whole report as a table (address, size, verdict, kind, source, reason) on stdout. */
void report_print_table(json_object *report, const DfusctlContext *ctx);
