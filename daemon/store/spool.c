/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"
#include "strv.h"

/* Older than this, a temp file cannot be a write in progress: reads time out long before. */
#define SPOOL_TMP_MAX_AGE_SEC 3600

/* How many hold a file: writers in flight, jobs and rules. Unlisted: nobody. */
typedef struct SpoolClaim {
        char hash[65];
        unsigned count;
        struct SpoolClaim *next;
} SpoolClaim;

struct Spool {
        char *dir;
        pthread_mutex_t lock; /* the counts, and each removal's check-and-unlink */
        SpoolClaim *claims;
};

int spool_new(const char *state_dir, Spool **ret) {
        Spool *s = calloc(1, sizeof(Spool));

        if (!s)
                return -ENOMEM;
        if (asprintf(&s->dir, "%s/spool", state_dir) < 0) {
                free(s);
                return -ENOMEM;
        }
        pthread_mutex_init(&s->lock, NULL);
        *ret = s;
        return 0;
}

Spool *spool_free(Spool *s) {
        if (!s)
                return NULL;
        while (s->claims) {
                SpoolClaim *c = s->claims;
                s->claims = c->next;
                free(c);
        }
        pthread_mutex_destroy(&s->lock);
        free(s->dir);
        return mfree(s);
}

static SpoolClaim **claim_find(Spool *s, const char *hash) {
        SpoolClaim **p = &s->claims;
        while (*p && !streq((*p)->hash, hash))
                p = &(*p)->next;
        return p;
}

int spool_ref(Spool *s, const char *hash) {
        SpoolClaim **p;
        int r = 0;

        if (strlen(hash) != 64)
                return -EINVAL;
        pthread_mutex_lock(&s->lock);
        p = claim_find(s, hash);
        if (*p)
                (*p)->count++;
        else if ((*p = calloc(1, sizeof(SpoolClaim)))) {
                memcpy((*p)->hash, hash, 65);
                (*p)->count = 1;
        } else
                r = -ENOMEM;
        pthread_mutex_unlock(&s->lock);
        return r;
}

void spool_unref(Spool *s, const char *hash) {
        SpoolClaim **p, *c;

        pthread_mutex_lock(&s->lock);
        p = claim_find(s, hash);
        if ((c = *p) && --c->count == 0) {
                *p = c->next;
                free(c);
        }
        pthread_mutex_unlock(&s->lock);
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

static int spool_write_file(Spool *s, const char *hash, const uint8_t *buf, size_t size) {
        _cleanup_free_ char *path = NULL, *tmp = NULL;
        _cleanup_close_ int fd = -EBADF, dfd = -EBADF;
        int r;

        if (asprintf(&path, "%s/%s", s->dir, hash) < 0 || asprintf(&tmp, "%s/.%s.tmp", s->dir, hash) < 0)
                return -ENOMEM;
        if (access(path, F_OK) == 0)
                return 0;
        if (mkdir(s->dir, 0750) < 0 && errno != EEXIST)
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
        dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) < 0)
                return -errno;
        return 0;
}

int spool_write(Spool *s, const char *hash, const uint8_t *buf, size_t size) {
        int r;

        /* Held first: from here on no collection removes it, whether it is written now or was there. */
        r = spool_ref(s, hash);
        if (r < 0)
                return r;
        r = spool_write_file(s, hash, buf, size);
        if (r < 0)
                spool_unref(s, hash);
        return r;
}

int spool_read(Spool *s, const char *hash, uint64_t cap, uint8_t **ret, size_t *ret_size, DfuError *error) {
        _cleanup_free_ char *path = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        if (asprintf(&path, "%s/%s", s->dir, hash) < 0)
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

static bool is_hash(const char *name) {
        return strlen(name) == 64 && strspn(name, "0123456789abcdef") == 64;
}

static bool is_old_temp(int dfd, const char *name) {
        struct stat st;

        if (name[0] != '.' || strlen(name) != 69 || !streq(name + 65, ".tmp") ||
            !is_hash(strndupa(name + 1, 64)))
                return false;
        return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) >= 0 &&
               time(NULL) - st.st_mtime >= SPOOL_TMP_MAX_AGE_SEC;
}

void spool_collect(Spool *s, char *const *hashes) {
        DIR *d = opendir(s->dir);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d))) {
                const char *name = de->d_name;

                if (!(hashes ? strv_contains(hashes, name) : is_hash(name) || is_old_temp(dirfd(d), name)))
                        continue;
                /* The check and the unlink are one step against a job or a writer taking the file meanwhile.
                 */
                pthread_mutex_lock(&s->lock);
                if (!(is_hash(name) && *claim_find(s, name)) && unlinkat(dirfd(d), name, 0) < 0)
                        log_debug_errno(errno, "Failed to remove %s/%s: %m", s->dir, name);
                pthread_mutex_unlock(&s->lock);
        }
        closedir(d);
}

uint64_t spool_usage(Spool *s) {
        uint64_t total = 0;
        DIR *d = opendir(s->dir);
        struct dirent *de;

        if (!d)
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
