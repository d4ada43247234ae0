/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifdef DFUSCTL_HAVE_BUS

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exit-codes.h"
#include "flash.h"
#include "remote.h"
#include "trust.h"

int flash_signatures_add_file(FlashSignatures *s, const char *path) {
        if (s->n_files >= IMAGES_MAX) {
                fprintf(stderr, "dfusctl: at most %u --signature files, one per image.\n", IMAGES_MAX);
                return -EINVAL;
        }
        s->files[s->n_files++] = path;
        return 1;
}

void flash_signatures_done(FlashSignatures *s) {
        for (size_t i = 0; i < IMAGES_MAX; i++)
                s->data[i] = mfree(s->data[i]);
        s->n = 0;
}

/* Reads one signature file, capped; with optional, a missing file is no signature. */
static int read_signature(const DfusctlContext *ctx, const char *path, bool optional, uint8_t **ret,
                          size_t *ret_size) {
        _cleanup_close_ int fd = remote_open_input(ctx, path);
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size = 0;
        struct stat st;

        if (fd == -ENOENT && optional)
                return EXIT_ACCEPTED;
        if (fd < 0 || fstat(fd, &st) < 0) {
                fprintf(stderr, "dfusctl: Failed to open signature %s: %s\n", path,
                        strerror(fd < 0 ? -fd : errno));
                return EXIT_IO;
        }
        if (!S_ISREG(st.st_mode) || st.st_size > TRUST_SIGNATURE_MAX || st.st_size == 0) {
                fprintf(stderr,
                        "dfusctl: Signature %s is not a regular file of 1 to %d bytes (an Ed25519 signature "
                        "has %d).\n",
                        path, TRUST_SIGNATURE_MAX, TRUST_ED25519_SIGLEN);
                return EXIT_IO;
        }
        buf = malloc(TRUST_SIGNATURE_MAX + 1);
        if (!buf)
                return EXIT_IO;
        for (;;) {
                ssize_t k = read(fd, buf + size, TRUST_SIGNATURE_MAX + 1 - size);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        fprintf(stderr, "dfusctl: Failed to read signature %s: %s\n", path, strerror(errno));
                        return EXIT_IO;
                }
                if (k == 0)
                        break;
                size += (size_t)k;
                if (size > TRUST_SIGNATURE_MAX) {
                        fprintf(stderr, "dfusctl: Signature %s is larger than %d bytes.\n", path,
                                TRUST_SIGNATURE_MAX);
                        return EXIT_IO;
                }
        }
        *ret = TAKE_PTR(buf);
        *ret_size = size;
        return EXIT_ACCEPTED;
}

int flash_signatures_load(FlashSignatures *s, const DfusctlContext *ctx, char *const *paths, size_t n) {
        bool any = false;
        int r;

        if (s->n_files > 0 && s->n_files != n) {
                fprintf(stderr,
                        "dfusctl: %zu --signature files for %zu images: give one per image, in order.\n",
                        s->n_files, n);
                return EXIT_USAGE;
        }
        for (size_t i = 0; i < n && i < IMAGES_MAX; i++) {
                _cleanup_free_ char *beside = NULL;
                const char *path = s->n_files > 0 ? s->files[i] : NULL;

                /* Standard input has no file beside it. */
                if (!path && streq(paths[i], "-"))
                        continue;
                if (!path) {
                        if (asprintf(&beside, "%s.sig", paths[i]) < 0)
                                return EXIT_IO;
                        path = beside;
                }
                r = read_signature(ctx, path, s->n_files == 0, &s->data[i], &s->size[i]);
                if (r != EXIT_ACCEPTED)
                        return r;
                any = any || s->size[i] > 0;
        }
        s->n = any ? n : 0;
        return EXIT_ACCEPTED;
}

int flash_signatures_append(sd_bus_message *m, const FlashSignatures *s) {
        int r;

        if (s->n == 0)
                return 0;
        r = sd_bus_message_open_container(m, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", "signatures");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', "aay");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "ay");
        for (size_t i = 0; r >= 0 && i < s->n; i++)
                r = sd_bus_message_append_array(m, 'y', s->data[i] ?: (const uint8_t *)"", s->size[i]);
        for (int k = 0; r >= 0 && k < 3; k++)
                r = sd_bus_message_close_container(m);
        return r;
}

#endif
