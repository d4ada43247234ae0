/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "error.h"
#include "image-stream.h"
#include "image/image-internal.h"
#include "macro.h"

#define CHUNK (64u * 1024)

bool image_stream_name_valid(const char *name) {
        size_t len = strlen(name);

        return len > 0 && len <= IMAGE_STREAM_NAME_MAX && !strchr(name, '/') && !streq(name, ".") &&
               !streq(name, "..");
}

static void put_le(uint8_t *p, uint64_t v, size_t bytes) {
        for (size_t i = 0; i < bytes; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, size_t bytes) {
        uint64_t v = 0;

        for (size_t i = bytes; i > 0; i--)
                v = v << 8 | p[i - 1];
        return v;
}

/* Reads up to len bytes, stopping early only at the end of the stream: returns how many, or a
 * negative errno. */
static ssize_t read_upto(int fd, void *buf, size_t len) {
        size_t got = 0;

        while (got < len) {
                ssize_t k = read(fd, (uint8_t *)buf + got, len - got);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        break;
                got += (size_t)k;
        }
        return (ssize_t)got;
}

static int write_file(int out, const ImageStreamFile *f, uint8_t *buf, DfuError *error) {
        uint8_t head[10];
        size_t name_len = strlen(f->name);
        uint64_t done = 0;
        int r;

        if (!image_stream_name_valid(f->name))
                return dfu_error_set(error, -EINVAL, "\"%s\" is not a base name of 1 to %u bytes", f->name,
                                     IMAGE_STREAM_NAME_MAX);
        put_le(head, f->size, 8);
        put_le(head + 8, name_len, 2);
        r = write_full(out, head, sizeof head);
        if (r >= 0)
                r = write_full(out, f->name, name_len);
        while (r >= 0 && done < f->size) {
                ssize_t k = pread(f->fd, buf, (size_t)MIN((uint64_t)CHUNK, f->size - done), (off_t)done);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return dfu_error_set(error, -errno, "Failed to read %s: %s", f->name,
                                             strerror(errno));
                if (k == 0)
                        return dfu_error_set(error, -EIO,
                                             "%s shrank to %" PRIu64
                                             " bytes while it was sent (it had %" PRIu64 ")",
                                             f->name, done, f->size);
                r = write_full(out, buf, (size_t)k);
                done += (uint64_t)k;
        }
        return r;
}

int image_stream_write(int out, const ImageStreamFile *files, size_t n, DfuError *error) {
        _cleanup_free_ uint8_t *buf = malloc(CHUNK);
        uint8_t head[IMAGE_STREAM_MAGIC_LEN + 8];
        int r;

        if (!buf)
                return -ENOMEM;
        if (n > IMAGE_STREAM_FILES_MAX)
                return dfu_error_set(error, -E2BIG, "%zu files to send, at most %u", n,
                                     IMAGE_STREAM_FILES_MAX);
        memcpy(head, IMAGE_STREAM_MAGIC, IMAGE_STREAM_MAGIC_LEN);
        put_le(head + IMAGE_STREAM_MAGIC_LEN, IMAGE_STREAM_VERSION, 4);
        put_le(head + IMAGE_STREAM_MAGIC_LEN + 4, n, 4);
        r = write_full(out, head, sizeof head);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = write_file(out, files + i, buf, error);
        return r;
}

static int memfd_new(const char *name) {
        int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

        return fd < 0 ? -errno : fd;
}

/* Nobody changes the bytes between here and the daemon's read. */
static int memfd_seal(int fd) {
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
                return -errno;
        return lseek(fd, 0, SEEK_SET) < 0 ? -errno : 0;
}

/* Copies size bytes (or, with size UINT64_MAX, up to the end of in) into fd; *ret_done says how many
 * arrived. Returns 0, -EFBIG past cap, or a negative errno. */
static int copy_into(int in, int fd, uint64_t size, uint64_t cap, uint64_t *ret_done) {
        _cleanup_free_ uint8_t *buf = malloc(CHUNK);
        int r;

        *ret_done = 0;
        if (!buf)
                return -ENOMEM;
        while (*ret_done < size) {
                /* One byte past the cap tells "too large" from "exactly the cap". */
                uint64_t want = MIN((uint64_t)CHUNK, MIN(size, cap + 1) - *ret_done);
                ssize_t k = read_upto(in, buf, (size_t)want);

                if (k < 0)
                        return (int)k;
                if (k == 0)
                        return 0;
                if (*ret_done + (uint64_t)k > cap)
                        return -EFBIG;
                r = write_full(fd, buf, (size_t)k);
                if (r < 0)
                        return r;
                *ret_done += (uint64_t)k;
        }
        return 0;
}

int image_stream_memfd_from(int in, uint64_t size_cap, const char *name, uint64_t *ret_size) {
        _cleanup_close_ int fd = memfd_new(name);
        uint64_t done;
        int r;

        if (fd < 0)
                return fd;
        r = copy_into(in, fd, UINT64_MAX, size_cap, &done);
        if (r >= 0)
                r = memfd_seal(fd);
        if (r < 0)
                return r;
        *ret_size = done;
        return TAKE_FD(fd);
}

/* The fixed part of file i: its size and name; "file 2 of 3" in messages until the name is known. */
static int read_file_head(int in, size_t i, size_t n, uint64_t cap, ImageStreamFile *f, DfuError *error) {
        uint8_t head[10];
        char name[IMAGE_STREAM_NAME_MAX + 1];
        size_t name_len;
        ssize_t k;

        k = read_upto(in, head, sizeof head);
        if (k < 0)
                return dfu_error_set(error, (int)k, "file %zu of %zu: %s", i + 1, n, strerror((int)-k));
        if (k < (ssize_t)sizeof head)
                return dfu_error_set(
                        error, -EBADMSG,
                        "file %zu of %zu: stream ended after %zd of the 10 bytes of its size and name "
                        "length",
                        i + 1, n, k);
        f->size = get_le(head, 8);
        name_len = (size_t)get_le(head + 8, 2);
        if (name_len == 0 || name_len > IMAGE_STREAM_NAME_MAX)
                return dfu_error_set(error, -EBADMSG,
                                     "file %zu of %zu: a name of %zu bytes, expected 1 to %u", i + 1, n,
                                     name_len, IMAGE_STREAM_NAME_MAX);
        k = read_upto(in, name, name_len);
        if (k < 0)
                return dfu_error_set(error, (int)k, "file %zu of %zu: %s", i + 1, n, strerror((int)-k));
        if ((size_t)k < name_len)
                return dfu_error_set(error, -EBADMSG,
                                     "file %zu of %zu: stream ended after %zd of the %zu bytes of its name",
                                     i + 1, n, k, name_len);
        name[name_len] = '\0';
        if (strlen(name) != name_len || !image_stream_name_valid(name))
                return dfu_error_set(
                        error, -EBADMSG,
                        "file %zu of %zu: name \"%s\" is not a base name (no '/', NUL, \".\" or \"..\")",
                        i + 1, n, name);
        if (f->size > cap)
                return dfu_error_set(error, -EFBIG,
                                     "file %zu of %zu (%s): %" PRIu64 " bytes, more than the %" PRIu64
                                     " bytes a file may have",
                                     i + 1, n, name, f->size, cap);
        f->name = strdup(name);
        return f->name ? 0 : -ENOMEM;
}

static int read_file(int in, size_t i, size_t n, uint64_t cap, ImageStreamFile *f, DfuError *error) {
        uint64_t done;
        int r;

        r = read_file_head(in, i, n, cap, f, error);
        if (r < 0)
                return r;
        f->fd = memfd_new("dfusctl-stream");
        if (f->fd < 0)
                return dfu_error_set(error, f->fd, "file %zu of %zu (%s): %s", i + 1, n, f->name,
                                     strerror(-f->fd));
        r = copy_into(in, f->fd, f->size, cap, &done);
        if (r >= 0 && done < f->size)
                return dfu_error_set(error, -EBADMSG,
                                     "file %zu of %zu (%s): stream ended after %" PRIu64 " of %" PRIu64
                                     " bytes",
                                     i + 1, n, f->name, done, f->size);
        if (r >= 0)
                r = memfd_seal(f->fd);
        if (r < 0)
                return dfu_error_set(error, r, "file %zu of %zu (%s): %s", i + 1, n, f->name, strerror(-r));
        return 0;
}

static int read_header(int in, size_t *ret_n, DfuError *error) {
        uint8_t head[IMAGE_STREAM_MAGIC_LEN + 8];
        uint64_t version, n;
        ssize_t k;

        k = read_upto(in, head, sizeof head);
        if (k < 0)
                return dfu_error_set(error, (int)k, "header: %s", strerror((int)-k));
        if (k < (ssize_t)sizeof head)
                return dfu_error_set(error, -EBADMSG,
                                     "stream ended after %zd of the %zu bytes of its header", k,
                                     sizeof head);
        if (memcmp(head, IMAGE_STREAM_MAGIC, IMAGE_STREAM_MAGIC_LEN) != 0)
                return dfu_error_set(
                        error, -EBADMSG,
                        "not an image stream: expected \"DFUSCTL\\n\" as its first 8 bytes (it is "
                        "written by dfusctl -H, not by hand)");
        version = get_le(head + IMAGE_STREAM_MAGIC_LEN, 4);
        if (version != IMAGE_STREAM_VERSION)
                return dfu_error_set(error, -EPROTO,
                                     "stream version %" PRIu64
                                     ", this dfusctl reads version %u: install the same "
                                     "dfusd version on both hosts",
                                     version, IMAGE_STREAM_VERSION);
        n = get_le(head + IMAGE_STREAM_MAGIC_LEN + 4, 4);
        if (n > IMAGE_STREAM_FILES_MAX)
                return dfu_error_set(error, -E2BIG, "%" PRIu64 " files announced, at most %u", n,
                                     IMAGE_STREAM_FILES_MAX);
        *ret_n = (size_t)n;
        return 0;
}

static ssize_t find(const ImageStreamFile *files, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (streq(files[i].name, name))
                        return (ssize_t)i;
        return -1;
}

int image_stream_read(int in, uint64_t size_cap, ImageStreamFile **ret, size_t *ret_n, DfuError *error) {
        ImageStreamFile *files;
        size_t n = 0;
        uint8_t extra;
        ssize_t k;
        int r;

        r = read_header(in, &n, error);
        if (r < 0)
                return r;
        files = calloc(MAX(n, (size_t)1), sizeof(*files));
        if (!files)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                files[i].fd = -EBADF;
        for (size_t i = 0; r >= 0 && i < n; i++) {
                r = read_file(in, i, n, size_cap, files + i, error);
                /* The remote command line names each file by its name. */
                if (r >= 0 && find(files, i, files[i].name) >= 0)
                        r = dfu_error_set(error, -EBADMSG,
                                          "file %zu of %zu (%s): a second file of that name", i + 1, n,
                                          files[i].name);
        }
        if (r >= 0) {
                k = read_upto(in, &extra, 1);
                if (k != 0)
                        r = dfu_error_set(error, k < 0 ? (int)k : -EBADMSG,
                                          "unexpected data after the last of %zu files", n);
        }
        if (r < 0) {
                image_stream_files_free(files, n);
                return r;
        }
        *ret = files;
        *ret_n = n;
        return 0;
}

int image_stream_open(const ImageStreamFile *files, size_t n, const char *name) {
        ssize_t i = find(files, n, name);
        char path[32];
        int fd;

        if (i < 0)
                return -ENOENT;
        /* Its own open file: the verb may read it to the end and hand it on several times. */
        snprintf(path, sizeof path, "/proc/self/fd/%d", files[i].fd);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

void image_stream_files_free(ImageStreamFile *files, size_t n) {
        for (size_t i = 0; files && i < n; i++) {
                free(files[i].name);
                safe_close(files[i].fd);
        }
        free(files);
}
