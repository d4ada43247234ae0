/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "context.h"
#include "log.h"

/*
 * Images arrive as file descriptors: the daemon never opens a caller's path. Only regular files and
 * pipes are taken; they are read on a thread with a size cap and a deadline (a pipe that never closes
 * fails the call instead of hanging it), stored in the spool by SHA-256 so queued jobs and rules
 * survive a restart, then parsed and merged.
 */

ImageSet *image_set_free(ImageSet *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_fds; i++)
                safe_close(s->fds[i]);
        free(s->fds);
        strv_free(s->hashes);
        image_free(s->merged);
        free(s->spool_dir);
        free(s);
        return NULL;
}

int image_set_new_from_message(Context *ctx, sd_bus_message *m, ImageSet **ret, sd_bus_error *error) {
        _cleanup_(image_set_freep) ImageSet *s = calloc(1, sizeof(ImageSet));
        int r, fd;

        if (!s)
                return -ENOMEM;
        r = sd_bus_message_enter_container(m, 'a', "h");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(m, "h", &fd)) > 0) {
                struct stat st;
                int *n;

                if (fstat(fd, &st) < 0)
                        return sd_bus_error_set_errnof(error, errno, "Failed to stat image %zu: %m",
                                                       s->n_fds + 1);
                if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Image %zu is neither a regular file nor a pipe.",
                                                 s->n_fds + 1);
                if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > ctx->config.image_size_cap)
                        return sd_bus_error_setf(
                                error, DFUSD_ERROR_IMAGE_REJECTED,
                                "Image %zu is %llu bytes, larger than the cap of %llu bytes.", s->n_fds + 1,
                                (unsigned long long)st.st_size,
                                (unsigned long long)ctx->config.image_size_cap);
                n = realloc(s->fds, sizeof(int) * (s->n_fds + 1));
                if (!n)
                        return -ENOMEM;
                s->fds = n;
                s->fds[s->n_fds] = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                if (s->fds[s->n_fds] < 0)
                        return sd_bus_error_set_errnof(error, errno, "Failed to duplicate image fd: %m");
                s->n_fds++;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        if (s->n_fds == 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "No image given.");
        if (s->n_fds > 16)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Too many images (at most 16).");

        s->size_cap = ctx->config.image_size_cap;
        s->timeout_usec = ctx->config.read_timeout_usec;
        s->stopping = &ctx->stopping;
        if (asprintf(&s->spool_dir, "%s/spool", ctx->config.state_dir) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(s);
        return 0;
}

static int read_with_deadline(int fd, const char *name, uint64_t cap, uint64_t deadline,
                              const atomic_bool *stopping, uint8_t **ret, size_t *ret_size,
                              DfuError *error) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size = 0, alloc = 0;

        for (;;) {
                uint64_t now = now_monotonic_usec();
                if (stopping && atomic_load(stopping))
                        return dfu_error_set(error, ESHUTDOWN, "%s: the daemon is stopping.", name);
                if (now >= deadline)
                        return dfu_error_set(
                                error, ETIMEDOUT,
                                "%s: the pipe was not closed in time (%zu bytes read); close it "
                                "once the image is written.",
                                name, size);
                struct pollfd p = {.fd = fd, .events = POLLIN};
                int n = poll(&p, 1, (int)MIN((deadline - now + 999) / 1000, (uint64_t)1000));
                if (n < 0 && errno != EINTR)
                        return dfu_error_set(error, errno, "%s: poll failed: %m", name);
                if (n <= 0)
                        continue;
                if (alloc - size < 65536) {
                        alloc = MAX(alloc * 2, (size_t)256 * 1024);
                        uint8_t *nb = realloc(buf, alloc);
                        if (!nb)
                                return dfu_error_set(error, ENOMEM, "Out of memory.");
                        buf = nb;
                }
                ssize_t k = read(fd, buf + size, alloc - size);
                if (k < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return dfu_error_set(error, errno, "%s: read failed at offset %zu: %m", name, size);
                }
                if (k == 0)
                        break;
                size += (size_t)k;
                if (size > cap)
                        return dfu_error_set(error, EFBIG, "%s: larger than the cap of %llu bytes.", name,
                                             (unsigned long long)cap);
        }
        *ret = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

static int spool_write(const char *dir, const char *hash, const uint8_t *buf, size_t size) {
        _cleanup_free_ char *path = NULL, *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;

        if (asprintf(&path, "%s/%s", dir, hash) < 0 || asprintf(&tmp, "%s/.%s.tmp", dir, hash) < 0)
                return -ENOMEM;
        if (access(path, F_OK) == 0)
                return 0;
        (void)mkdir(dir, 0750);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
        if (fd < 0)
                return -errno;
        for (size_t off = 0; off < size;) {
                ssize_t k = write(fd, buf + off, size - off);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                off += (size_t)k;
        }
        if (fsync(fd) < 0)
                return -errno;
        if (rename(tmp, path) < 0)
                return -errno;
        return 0;
}

static int parse_and_merge(const uint8_t *buf, size_t size, const char *name, const ImageLoadOptions *lo,
                           Image **merged, DfuError *error) {
        _cleanup_(image_freep) Image *img = NULL;
        int r = image_load_buffer(buf, size, name, lo, &img, error);
        if (r < 0)
                return r;
        if (!*merged) {
                *merged = TAKE_PTR(img);
                return 0;
        }
        return image_merge(*merged, img, error);
}

/* A TaskRunFn: runs on a thread, touches nothing but the set. */
void image_set_load(void *userdata) {
        ImageSet *s = userdata;
        uint64_t deadline = now_monotonic_usec() + s->timeout_usec;
        ImageLoadOptions lo = {.has_base = s->has_base, .base = s->base, .size_cap = s->size_cap};

        for (size_t i = 0; i < s->n_fds; i++) {
                _cleanup_free_ uint8_t *buf = NULL;
                char name[32], hash[65];
                size_t size;
                int r;

                (void)snprintf(name, sizeof(name), "image %zu", i + 1);
                r = read_with_deadline(s->fds[i], name, s->size_cap, deadline, s->stopping, &buf, &size,
                                       &s->error);
                if (r < 0)
                        goto fail;
                s->fds[i] = safe_close(s->fds[i]);
                r = sha256_hex(buf, size, hash);
                if (r < 0) {
                        r = dfu_error_set(&s->error, -r, "%s: failed to hash.", name);
                        goto fail;
                }
                r = spool_write(s->spool_dir, hash, buf, size);
                if (r < 0) {
                        r = dfu_error_set(&s->error, -r, "Failed to store %s in %s: %s", name, s->spool_dir,
                                          strerror(-r));
                        goto fail;
                }
                r = strv_extend(&s->hashes, hash);
                if (r < 0)
                        goto fail;
                r = parse_and_merge(buf, size, name, &lo, &s->merged, &s->error);
                if (r < 0)
                        goto fail;
        }
        s->result = 0;
        return;
fail:
        s->result = s->error.code ? -s->error.code : -EIO;
}

int image_set_load_spooled(Context *ctx, char *const *hashes, const JobOptions *o, Image **ret,
                           DfuError *error) {
        ImageLoadOptions lo = {
                .has_base = o->has_base, .base = o->base, .size_cap = ctx->config.image_size_cap};
        _cleanup_(image_freep) Image *merged = NULL;
        size_t i = 0;
        int r;

        for (char *const *h = hashes; h && *h; h++, i++) {
                _cleanup_free_ char *path = NULL;
                _cleanup_free_ uint8_t *buf = NULL;
                _cleanup_close_ int fd = -EBADF;
                char name[32];
                size_t size;

                (void)snprintf(name, sizeof(name), "image %zu", i + 1);
                if (asprintf(&path, "%s/spool/%s", ctx->config.state_dir, *h) < 0)
                        return -ENOMEM;
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return dfu_error_set(error, errno, "Spooled %s (%s) is missing: %m", name, path);
                r = read_with_deadline(fd, name, ctx->config.image_size_cap,
                                       now_monotonic_usec() + 10 * USEC_PER_SEC, NULL, &buf, &size, error);
                if (r < 0)
                        return r;
                r = parse_and_merge(buf, size, name, &lo, &merged, error);
                if (r < 0)
                        return r;
        }
        if (!merged)
                return dfu_error_set(error, ENOENT, "No image.");
        *ret = TAKE_PTR(merged);
        return 0;
}

char *images_sha256_summary(char *const *hashes) {
        return strv_join(hashes, ",");
}

static bool spool_needed(Context *ctx, const char *hash) {
        LIST_FOREACH (jobs, j, ctx->jobs)
                if (!job_state_is_final(j->state) && strv_contains(j->image_hashes, hash))
                        return true;
        LIST_FOREACH (rules, r, ctx->rules)
                if (strv_contains(r->image_hashes, hash))
                        return true;
        return false;
}

/*
 * The spool only serves restarts: queued jobs and rules. A call still reading its images may have
 * spooled a file that no job references yet, so nothing is removed while one is in flight.
 */
void spool_release(Context *ctx, char *const *hashes) {
        _cleanup_free_ char *dir = NULL;
        DIR *d;
        struct dirent *de;

        if (ctx->calls_pending > 0 || asprintf(&dir, "%s/spool", ctx->config.state_dir) < 0)
                return;
        d = opendir(dir);
        if (!d)
                return;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.' || strlen(de->d_name) != 64)
                        continue;
                if (hashes && !strv_contains(hashes, de->d_name))
                        continue;
                if (!spool_needed(ctx, de->d_name) && unlinkat(dirfd(d), de->d_name, 0) < 0)
                        log_debug_errno(errno, "Failed to remove %s/%s: %m", dir, de->d_name);
        }
        closedir(d);
}
