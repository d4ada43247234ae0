/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "spool.h"
#include "strv.h"

static int spool_dir(const char *state_dir, char **ret) {
        return asprintf(ret, "%s/spool", state_dir) < 0 ? -ENOMEM : 0;
}

static int write_all(int fd, const uint8_t *buf, size_t size) {
        for (size_t off = 0; off < size;) {
                ssize_t k = write(fd, buf + off, size - off);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                off += (size_t)k;
        }
        return 0;
}

int spool_write(const char *state_dir, const char *hash, const uint8_t *buf, size_t size) {
        _cleanup_free_ char *dir = NULL, *path = NULL, *tmp = NULL;
        _cleanup_close_ int fd = -EBADF, dfd = -EBADF;
        int r;

        r = spool_dir(state_dir, &dir);
        if (r < 0)
                return r;
        if (asprintf(&path, "%s/%s", dir, hash) < 0 || asprintf(&tmp, "%s/.%s.tmp", dir, hash) < 0)
                return -ENOMEM;
        /* Reused: its time says so, so that a collection that started before does not take it. */
        if (utimensat(AT_FDCWD, path, NULL, 0) == 0)
                return 0;
        if (mkdir(dir, 0750) < 0 && errno != EEXIST)
                return -errno;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
        if (fd < 0)
                return -errno;
        r = write_all(fd, buf, size);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                (void)unlink(tmp);
                return r;
        }
        /* The rename itself must survive a crash: a job acknowledged with this image needs it. */
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) < 0)
                return -errno;
        return 0;
}

int spool_read(const char *state_dir, const char *hash, uint64_t cap, uint8_t **ret, size_t *ret_size,
               DfuError *error) {
        _cleanup_free_ char *path = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        if (asprintf(&path, "%s/spool/%s", state_dir, hash) < 0)
                return dfu_error_set(error, ENOMEM, "Out of memory.");
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return dfu_error_set(error, errno, "Spooled image %s is missing: %m", path);
        if (fstat(fd, &st) < 0)
                return dfu_error_set(error, errno, "Failed to stat %s: %m", path);
        if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > cap)
                return dfu_error_set(error, EFBIG,
                                     "Spooled image %s is not a file under the cap of %llu bytes.", path,
                                     (unsigned long long)cap);
        buf = malloc(MAX((size_t)st.st_size, (size_t)1));
        if (!buf)
                return dfu_error_set(error, ENOMEM, "Out of memory.");
        for (size_t off = 0; off < (size_t)st.st_size;) {
                ssize_t k = pread(fd, buf + off, (size_t)st.st_size - off, (off_t)off);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return dfu_error_set(error, k < 0 ? errno : EIO, "Failed to read %s: %s", path,
                                             k < 0 ? strerror(errno) : "short file");
                off += (size_t)k;
        }
        *ret_size = (size_t)st.st_size;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* Older than this, a temp file cannot be a write in progress: reads time out long before. */
#define SPOOL_TMP_MAX_AGE_SEC 3600

static bool is_hash(const char *name) {
        return strlen(name) == 64 && strspn(name, "0123456789abcdef") == 64;
}

/* Whether st changed after requested, less a second: file times are coarser than the clock. */
static bool changed_since(const struct stat *st, const struct timespec *requested) {
        return requested && st->st_mtim.tv_sec >= requested->tv_sec - 1;
}

void spool_collect(const char *state_dir, char *const *hashes, char *const *keep,
                   const struct timespec *requested) {
        _cleanup_free_ char *dir = NULL;
        DIR *d;
        struct dirent *de;

        if (spool_dir(state_dir, &dir) < 0)
                return;
        d = opendir(dir);
        if (!d)
                return;
        while ((de = readdir(d))) {
                const char *name = de->d_name;
                bool tmp = name[0] == '.' && strlen(name) == 69 && is_hash(strndupa(name + 1, 64)) &&
                           streq(name + 65, ".tmp");
                struct stat st;

                if (tmp) {
                        /* A temp file is a write that never finished, unless it is being written now: only
                         * the full collection removes them, and only old ones. */
                        if (hashes || fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                            time(NULL) - st.st_mtime < SPOOL_TMP_MAX_AGE_SEC)
                                continue;
                } else if (!is_hash(name) || (hashes && !strv_contains(hashes, name)) ||
                           strv_contains(keep, name) ||
                           (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                            changed_since(&st, requested)))
                        continue;
                if (unlinkat(dirfd(d), name, 0) < 0)
                        log_debug_errno(errno, "Failed to remove %s/%s: %m", dir, name);
        }
        closedir(d);
}

uint64_t spool_usage(const char *state_dir) {
        _cleanup_free_ char *dir = NULL;
        uint64_t total = 0;
        DIR *d;
        struct dirent *de;

        if (spool_dir(state_dir, &dir) < 0 || !(d = opendir(dir)))
                return 0;
        while ((de = readdir(d))) {
                struct stat st;
                if (de->d_name[0] != '.' && fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                    S_ISREG(st.st_mode))
                        total += (uint64_t)st.st_size;
        }
        closedir(d);
        return total;
}
