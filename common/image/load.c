/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "image-internal.h"

static const char *file_kind(mode_t mode) {
        switch (mode & S_IFMT) {
        case S_IFDIR:
                return "a directory";
        case S_IFSOCK:
                return "a socket";
        case S_IFCHR:
                return "a character device";
        case S_IFBLK:
                return "a block device";
        case S_IFLNK:
                return "a symbolic link";
        default:
                return "of an unknown file type";
        }
}

static int read_some(int fd, uint8_t *p, size_t n, size_t *ret) {
        for (;;) {
                ssize_t k = read(fd, p, n);
                if (k >= 0) {
                        *ret = (size_t)k;
                        return 0;
                }
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN)
                        return negative_errno();
                /* A non-blocking pipe from a client: wait for its writer instead of failing. */
                struct pollfd pfd = {.fd = fd, .events = POLLIN};
                if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
                        return negative_errno();
        }
}

int read_fd_capped(int fd, const char *name, uint64_t cap, uint8_t **ret, size_t *ret_size,
                   DfuError *error) {
        struct stat st;
        int r;

        if (fd < 0 || !ret || !ret_size)
                return dfu_error_set(error, EINVAL, "invalid arguments to read_fd_capped");
        name = name ?: "input";
        if (cap == 0)
                cap = IMAGE_SIZE_CAP_DEFAULT;
        cap = MIN(cap, (uint64_t)SIZE_MAX - 1);

        if (fstat(fd, &st) < 0)
                return dfu_error_set(error, errno, "%s: cannot stat: %s", name, strerror(errno));
        if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
                return dfu_error_set(error, EBADFD, "%s: is %s; expected a regular file or a pipe", name,
                                     file_kind(st.st_mode));
        /* A regular file says how large it is: refuse it before reading a byte. */
        if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > cap)
                return dfu_error_set(error, EFBIG,
                                     "%s: %" PRIu64 " bytes exceed the size limit of %" PRIu64 " bytes",
                                     name, (uint64_t)st.st_size, cap);

        size_t allocated = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 64 * 1024, size = 0;
        _cleanup_free_ uint8_t *buf = malloc(allocated);
        if (!buf)
                return dfu_error_set(error, ENOMEM, "%s: out of memory", name);

        for (;;) {
                if (size == allocated) {
                        size_t n = (size_t)MIN((uint64_t)allocated * 2, cap + 1);
                        uint8_t *b = realloc(buf, n);
                        if (!b)
                                return dfu_error_set(error, ENOMEM, "%s: out of memory", name);
                        buf = b;
                        allocated = n;
                }
                size_t k;
                r = read_some(fd, buf + size, allocated - size, &k);
                if (r < 0)
                        return dfu_error_set(error, r, "%s: cannot read: %s", name, strerror(-r));
                if (k == 0)
                        break;
                size += k;
                /* Pipes (and files that grow while read) are stopped as soon as they pass the cap. */
                if (size > cap)
                        return dfu_error_set(error, EFBIG, "%s: more than %" PRIu64 " bytes, the size limit",
                                             name, cap);
        }

        *ret = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

int image_load_buffer(const uint8_t *buf, size_t len, const char *name, const ImageLoadOptions *opts,
                      Image **ret, DfuError *error) {
        uint64_t cap = opts && opts->size_cap ? opts->size_cap : IMAGE_SIZE_CAP_DEFAULT;
        int r;

        if ((!buf && len > 0) || !ret)
                return dfu_error_set(error, EINVAL, "invalid arguments to image_load_buffer");
        name = name ?: "image";
        if (len > cap)
                return dfu_error_set(error, EFBIG,
                                     "%s: %zu bytes exceed the size limit of %" PRIu64 " bytes", name, len,
                                     cap);
        if (len == 0)
                return dfu_error_set(error, EINVAL, "%s: file is empty", name);

        ImageFormat format =
                opts && opts->format != IMAGE_FORMAT_UNKNOWN ? opts->format : image_detect_format(buf, len);
        _cleanup_(image_freep) Image *image = image_new(name);
        if (!image)
                return dfu_error_set(error, ENOMEM, "%s: out of memory", name);
        image->format = format;

        switch (format) {
        case IMAGE_FORMAT_IHEX:
                r = ihex_parse(buf, len, image, error);
                break;
        case IMAGE_FORMAT_SREC:
                r = srec_parse(buf, len, image, error);
                break;
        case IMAGE_FORMAT_ELF:
                r = elf_parse(buf, len, image, error);
                break;
        case IMAGE_FORMAT_DFUSE:
                r = dfuse_parse(buf, len, image, error);
                break;
        case IMAGE_FORMAT_BINARY:
                r = binary_parse(buf, len, opts, image, error);
                break;
        default:
                r = dfu_error_set(error, EINVAL, "%s: unknown image format", name);
        }
        if (r < 0)
                return r;

        *ret = TAKE_PTR(image);
        return 0;
}

int image_load_fd(int fd, const char *name, const ImageLoadOptions *opts, Image **ret, DfuError *error) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size;
        int r;

        r = read_fd_capped(fd, name, opts ? opts->size_cap : 0, &buf, &size, error);
        if (r < 0)
                return r;
        return image_load_buffer(buf, size, name, opts, ret, error);
}

int image_load_path(const char *path, const ImageLoadOptions *opts, Image **ret, DfuError *error) {
        if (!path)
                return dfu_error_set(error, EINVAL, "invalid arguments to image_load_path");

        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return dfu_error_set(error, errno, "%s: cannot open: %s", path, strerror(errno));
        return image_load_fd(fd, path, opts, ret, error);
}
