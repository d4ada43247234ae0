/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifdef DFUSCTL_HAVE_BUS

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus-patches.h"
#include "exit-codes.h"
#include "flash.h"
#include "parse-util.h"
#include "remote.h"

static int parse_number(const char *option, const char *arg, uint64_t max, uint64_t *ret) {
        if (parse_uint64(arg, 0, max, ret) >= 0)
                return 1;
        fprintf(stderr, "dfusctl: --%s: expected a number up to 0x%" PRIx64 ", got \"%s\".\n", option, max,
                arg);
        return -EINVAL;
}

int flash_options_parse_option(int c, const char *arg, FlashOptions *o) {
        switch (c) {
        case OPT_PORT:
                o->port = arg;
                break;
        case OPT_SERIAL:
                o->serial = arg;
                break;
        case OPT_STATION:
                o->station = arg;
                break;
        case OPT_ALL:
                o->all = true;
                break;
        case OPT_WAIT:
                o->wait = true;
                break;
        case OPT_NO_BLOCK:
                o->no_block = true;
                break;
        case OPT_PART:
                o->part = arg;
                break;
        case OPT_STRICT:
                o->strict = true;
                break;
        case OPT_VERIFY:
        case OPT_NO_VERIFY:
                o->verify = c == OPT_VERIFY;
                break;
        case OPT_NO_LEAVE:
                o->no_leave = true;
                break;
        case OPT_MASS_ERASE:
                o->mass_erase = true;
                break;
        case OPT_SKIP_IDENTICAL:
                o->skip_identical = true;
                break;
        case OPT_SKIP_BLANK:
                o->skip_blank = true;
                break;
        case OPT_ALLOW_OPTION_BYTES:
                o->allow_option_bytes = true;
                break;
        case OPT_BASE:
                o->have_base = true;
                return parse_number("base", arg, UINT32_MAX, &o->base);
        case OPT_TIMEOUT:
                o->have_timeout = true;
                return parse_number("timeout", arg, UINT32_MAX, &o->timeout);
        case OPT_UNPROTECT:
                o->unprotect = true;
                break;
        case OPT_LOCK:
                o->lock = true;
                break;
        case OPT_ALLOW_PERMANENT_LOCK:
                o->allow_permanent_lock = true;
                break;
        case OPT_YES_PERMANENT:
                o->yes_permanent = true;
                break;
        case OPT_OPTION_BYTES:
                o->option_bytes = arg;
                break;
        case OPT_SIGNATURE:
                return o->signatures ? flash_signatures_add_file(o->signatures, arg) : 0;
        case OPT_PATCH:
                return flash_options_add_patch(o, arg);
        case OPT_PATCH_ERASE:
                o->patch_erase = true;
                break;
        default:
                return 0;
        }
        return 1;
}

int flash_options_add_patch(FlashOptions *o, const char *arg) {
        DfuError error = DFU_ERROR_INIT;

        if (o->n_patches >= PATCH_MAX) {
                fprintf(stderr, "dfusctl: --patch: at most %d patches per job.\n", PATCH_MAX);
                return -EINVAL;
        }
        if (patch_parse(arg, &o->patches[o->n_patches], &error) < 0) {
                fprintf(stderr, "dfusctl: --patch: %s\n", dfu_error_message(&error));
                return -EINVAL;
        }
        o->n_patches++;
        return 1;
}

static int append_bool(sd_bus_message *m, const char *key, bool value) {
        return sd_bus_message_append(m, "{sv}", key, "b", (int)value);
}

static int append_str(sd_bus_message *m, const char *key, const char *value) {
        return value ? sd_bus_message_append(m, "{sv}", key, "s", value) : 0;
}

int flash_options_append(sd_bus_message *m, const FlashOptions *o, bool targets) {
        int r = 0;

        if (targets) {
                if (r >= 0)
                        r = append_str(m, "port", o->port);
                if (r >= 0)
                        r = append_str(m, "serial", o->serial);
                if (r >= 0)
                        r = append_str(m, "station", o->station);
                if (r >= 0 && o->wait)
                        r = append_bool(m, "wait", true);
                if (r >= 0 && o->have_timeout)
                        r = sd_bus_message_append(m, "{sv}", "timeout", "t", o->timeout);
        }
        if (r >= 0)
                r = append_str(m, "part", o->part);
        if (r >= 0 && o->strict)
                r = append_bool(m, "strict", true);
        if (r >= 0 && o->verify >= 0)
                r = append_bool(m, "verify", o->verify);
        if (r >= 0 && o->no_leave)
                r = append_bool(m, "leave", false);
        if (r >= 0 && o->mass_erase)
                r = append_bool(m, "mass-erase", true);
        if (r >= 0 && o->skip_identical)
                r = append_bool(m, "skip-identical", true);
        if (r >= 0 && o->skip_blank)
                r = append_bool(m, "skip-blank", true);
        if (r >= 0 && o->allow_option_bytes)
                r = append_bool(m, "allow-option-bytes", true);
        if (r >= 0 && o->have_base)
                r = sd_bus_message_append(m, "{sv}", "base", "t", o->base);
        if (r >= 0 && o->unprotect)
                r = append_bool(m, "unprotect", true);
        if (r >= 0 && o->lock)
                r = append_bool(m, "lock", true);
        if (r >= 0 && o->allow_permanent_lock)
                r = append_bool(m, "allow-permanent-lock", true);
        if (r >= 0)
                r = append_str(m, "option-bytes", o->option_bytes);
        if (r >= 0 && o->signatures)
                r = flash_signatures_append(m, o->signatures);
        if (r >= 0 && o->n_patches > 0)
                r = bus_append_patches(m, o->patches, o->n_patches);
        if (r >= 0 && o->patch_erase)
                r = append_bool(m, "patch-erase", true);
        return r < 0 ? r : 0;
}

/* Whether the spec asks for RDP level 2: the daemon decides for sure, this only decides whether to ask. */
static bool wants_level2(const char *spec) {
        for (const char *p = spec; p && (p = strcasestr(p, "rdp=")); p += 4)
                if ((p == spec || p[-1] == ',') && p[4] == '2' && (p[5] == 0 || p[5] == ','))
                        return true;
        return false;
}

int flash_options_confirm_permanent(const FlashOptions *o, const char *verb) {
        char line[64];

        if (!o->allow_permanent_lock || !wants_level2(o->option_bytes) || o->yes_permanent)
                return EXIT_ACCEPTED;
        if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO)) {
                fprintf(stderr,
                        "dfusctl %s: RDP level 2 locks the board for good (no bootloader, no debug, no way "
                        "back); without a terminal to confirm on, pass --yes-permanent.\n",
                        verb);
                return EXIT_USAGE;
        }
        fprintf(stderr, "RDP level 2 locks the board for good: no bootloader, no debugger, no way back.\n"
                        "Type PERMANENT to go on: ");
        if (!fgets(line, sizeof(line), stdin) || strcspn(line, "\r\n") != 9 ||
            strncmp(line, "PERMANENT", 9) != 0) {
                fprintf(stderr, "dfusctl %s: not confirmed; nothing was sent.\n", verb);
                return EXIT_USAGE;
        }
        return EXIT_ACCEPTED;
}

void images_close(int *fds, size_t n) {
        for (size_t i = 0; fds && i < n; i++)
                safe_close(fds[i]);
        free(fds);
}

int images_open(const DfusctlContext *ctx, char **paths, size_t n, int **ret_fds) {
        int *fds = calloc(n, sizeof(int));
        struct stat st;
        int e;

        if (!fds)
                return EXIT_IO;
        for (size_t i = 0; i < n; i++)
                fds[i] = -EBADF;
        for (size_t i = 0; i < n; i++) {
                /* The daemon never opens a caller's path: it reads what we hand it. */
                fds[i] = remote_open_input(ctx, paths[i]);
                if (fds[i] < 0) {
                        fprintf(stderr, "dfusctl: Failed to open image %s: %s\n", paths[i],
                                strerror(-fds[i]));
                        images_close(fds, n);
                        return EXIT_IO;
                }
                /* A directory opens fine, and only the daemon's read would fail on it. */
                e = fstat(fds[i], &st) < 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
                if (e != 0) {
                        fprintf(stderr,
                                "dfusctl: Failed to read image %s: %s; expected a regular file or a pipe.\n",
                                paths[i], strerror(e));
                        images_close(fds, n);
                        return EXIT_IO;
                }
        }
        *ret_fds = fds;
        return EXIT_ACCEPTED;
}

int images_open_connect(const DfusctlContext *ctx, char **paths, size_t n, int **ret_fds, sd_bus **ret_bus) {
        int *fds = NULL, r;

        if (n > IMAGES_MAX) {
                fprintf(stderr,
                        "dfusctl: %zu images given, but at most %u images per job: the D-Bus message limit "
                        "(max_message_unix_fds); merge some first with \"dfusctl inspect --family PART "
                        "IMAGE... "
                        "--export FILE\".\n",
                        n, IMAGES_MAX);
                return EXIT_USAGE;
        }
        r = images_open(ctx, paths, n, &fds);
        if (r != EXIT_ACCEPTED)
                return r;
        r = bus_connect_inputs(ctx, ret_bus);
        if (r != EXIT_ACCEPTED || !*ret_bus) {
                images_close(fds, n);
                return r;
        }
        *ret_fds = fds;
        return EXIT_ACCEPTED;
}

int images_method_new(sd_bus *bus, const char *method, const int *fds, size_t n_fds, sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, DFUSD_BUS_NAME, DFUSD_PATH, DFUSD_IFACE_MGR, method);
        if (r >= 0)
                r = sd_bus_message_open_container(m, SD_BUS_TYPE_ARRAY, "h");
        for (size_t i = 0; r >= 0 && i < n_fds; i++)
                r = sd_bus_message_append_basic(m, SD_BUS_TYPE_UNIX_FD, fds + i);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_open_container(m, SD_BUS_TYPE_ARRAY, "{sv}");
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

/* The daemon never sees file names, only descriptors: it calls the n-th one "image n". */
static char *source_name(const char *source, char *const *paths, size_t n_paths) {
        unsigned long k;
        char *end, *t;

        if (strncmp(source, "image ", 6) != 0 || !paths)
                return strdup(source);
        errno = 0;
        k = strtoul(source + 6, &end, 10);
        if (errno != 0 || end == source + 6 || k == 0 || k > n_paths)
                return strdup(source);
        if (asprintf(&t, "%s%s", paths[k - 1], end) < 0)
                return NULL;
        return t;
}

/* One line per dropped or rejected segment: the daemon's reason already names the range and size. */
static char *warning_text(json_object *e, char *const *paths, size_t n_paths) {
        const char *verdict = json_get_str(e, "verdict", "keep");
        _cleanup_free_ char *source = NULL;
        char *t;

        if (streq(verdict, "keep"))
                return NULL;
        source = source_name(json_get_str(e, "source", ""), paths, n_paths);
        if (!source)
                return NULL;
        if (asprintf(&t, "%s: %s%s%s", streq(verdict, "drop") ? "warning" : "error", source,
                     source[0] ? ": " : "", json_get_str(e, "reason", "no reason given")) < 0)
                return NULL;
        return t;
}

void report_print_warnings(json_object *const *reports, const char *const *labels, size_t n,
                           char *const *paths, size_t n_paths) {
        size_t n_items = 0;
        char **texts = NULL;
        size_t *owners = NULL;

        for (size_t i = 0; i < n; i++) {
                size_t m = reports[i] && json_object_is_type(reports[i], json_type_array)
                                   ? json_object_array_length(reports[i])
                                   : 0;
                for (size_t k = 0; k < m; k++) {
                        char *t = warning_text(json_object_array_get_idx(reports[i], k), paths, n_paths);
                        char **nt;
                        size_t *no;

                        if (!t)
                                continue;
                        nt = realloc(texts, (n_items + 1) * sizeof(*texts));
                        no = nt ? realloc(owners, (n_items + 1) * sizeof(*owners)) : NULL;
                        if (nt)
                                texts = nt;
                        if (no)
                                owners = no;
                        if (!nt || !no) {
                                free(t);
                                break;
                        }
                        texts[n_items] = t;
                        owners[n_items++] = i;
                }
        }

        /* Every board of `flash --all` gets the same image: say each thing once, for all its boards. */
        for (size_t a = 0; a < n_items; a++) {
                if (!texts[a])
                        continue;
                fputs(labels[owners[a]], stderr);
                for (size_t b = a + 1; b < n_items; b++)
                        if (texts[b] && streq(texts[a], texts[b])) {
                                fprintf(stderr, ", %s", labels[owners[b]]);
                                texts[b] = mfree(texts[b]);
                        }
                fprintf(stderr, ": %s\n", texts[a]);
                texts[a] = mfree(texts[a]);
        }
        free(texts);
        free(owners);
}

#endif
