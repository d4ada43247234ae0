/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "image-set.h"
#include "log.h"
#include "spool.h"
#include "time-util.h"

void image_set_unclaim(ImageSet *s) {
        if (!s->claimed)
                return;
        for (char **h = s->hashes; h && *h; h++)
                spool_unref(s->spool, *h);
        s->claimed = false;
}

void image_signatures_done(ImageSignatures *s) {
        for (size_t i = 0; i < s->n; i++)
                free(s->data[i]);
        *s = (ImageSignatures){};
}

ImageSet *image_set_free(ImageSet *s) {
        if (!s)
                return NULL;
        image_signatures_done(&s->signatures);
        free(s->trust_dir);
        free(s->trust_source);
        for (size_t i = 0; i < s->n_fds; i++)
                safe_close(s->fds[i]);
        image_set_unclaim(s);
        strv_free(s->hashes);
        image_free(s->merged);
        free(s);
        return NULL;
}

int image_set_new(int *fds, size_t n_fds, const JobOptions *o, uint64_t size_cap, uint64_t timeout_usec,
                  const atomic_bool *stopping, Spool *spool, uint64_t spool_size_cap, ImageSet **ret) {
        _cleanup_(image_set_freep) ImageSet *s = calloc(1, sizeof(ImageSet));

        if (!s || n_fds > IMAGE_SET_MAX_IMAGES) {
                for (size_t i = 0; i < n_fds; i++)
                        safe_close(fds[i]);
                return s ? -E2BIG : -ENOMEM;
        }
        memcpy(s->fds, fds, n_fds * sizeof(int));
        s->n_fds = n_fds;
        s->has_base = o->has_base;
        s->base = o->base;
        s->size_cap = size_cap;
        s->timeout_usec = timeout_usec;
        s->stopping = stopping;
        s->spool_size_cap = spool_size_cap;
        s->spool = spool;
        *ret = TAKE_PTR(s);
        return 0;
}

int image_set_set_trust(ImageSet *s, TrustMode mode, const char *approved_dir, const char *key_dir,
                        ImageSignatures *sigs) {
        s->trust_mode = mode;
        s->signatures = *sigs;
        *sigs = (ImageSignatures){};
        if (mode == TRUST_OFF)
                return 0;
        s->trust_dir = strdup(mode == TRUST_ALLOWLIST ? approved_dir : key_dir);
        return s->trust_dir ? 0 : -ENOMEM;
}

/* Appends image i's source to the set's record: "image 1: key ... (a.pem); image 2: ...". */
static int trust_source_add(ImageSet *s, size_t i, const char *source) {
        char *n = NULL;

        if (!source)
                return 0;
        if (s->n_fds == 1)
                n = strdup(source);
        else if (asprintf(&n, "%s%simage %zu: %s", s->trust_source ?: "", s->trust_source ? "; " : "", i + 1,
                          source) < 0)
                n = NULL;
        if (!n)
                return -ENOMEM;
        free(s->trust_source);
        s->trust_source = n;
        return 0;
}

static int trust_check_image(ImageSet *s, const TrustStore *store, size_t i, const char *name,
                             const uint8_t *buf, size_t size, const char *hash) {
        _cleanup_free_ char *source = NULL;
        bool has_sig = i < s->signatures.n && s->signatures.size[i] > 0;
        int r;

        if (!store)
                return 0;
        r = trust_store_check(store, name, buf, size, hash, has_sig ? s->signatures.data[i] : NULL,
                              has_sig ? s->signatures.size[i] : 0, &source, &s->error);
        if (r < 0)
                return r;
        if (trust_source_add(s, i, source) < 0)
                return dfu_error_set(&s->error, ENOMEM, "Out of memory.");
        return 0;
}

static int read_with_deadline(int fd, const char *name, uint64_t cap, uint64_t deadline,
                              const atomic_bool *stopping, uint8_t **ret, size_t *ret_size,
                              DfuError *error) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size = 0, alloc = 0;
        struct stat st;
        /* A file is read from its start, whatever offset the caller left it at (or shares with another
         * call); a pipe has no offset. */
        bool file = fstat(fd, &st) >= 0 && S_ISREG(st.st_mode);

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
                ssize_t k = file ? pread(fd, buf + size, alloc - size, (off_t)size)
                                 : read(fd, buf + size, alloc - size);
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
        uint8_t *bufs[IMAGE_SET_MAX_IMAGES] = {};
        size_t sizes[IMAGE_SET_MAX_IMAGES] = {};
        _cleanup_(trust_store_freep) TrustStore *trust = NULL;
        int r = 0;

        /* Read once per call: a key or list added or removed counts from the next call on. */
        if (s->trust_mode != TRUST_OFF)
                r = trust_store_load(s->trust_mode, s->trust_dir, s->trust_dir, &trust, &s->error);

        for (size_t i = 0; r >= 0 && i < s->n_fds; i++) {
                char name[32], hash[65];

                (void)snprintf(name, sizeof(name), "image %zu", i + 1);
                r = read_with_deadline(s->fds[i], name, s->size_cap, deadline, s->stopping, &bufs[i],
                                       &sizes[i], &s->error);
                if (r < 0)
                        break;
                s->fds[i] = safe_close(s->fds[i]);
                r = sha256_hex(bufs[i], sizes[i], hash);
                if (r < 0) {
                        r = dfu_error_set(&s->error, -r, "%s: failed to hash.", name);
                        break;
                }
                r = strv_extend(&s->hashes, hash);
                if (r < 0) {
                        r = dfu_error_set(&s->error, ENOMEM, "Out of memory.");
                        break;
                }
                /* Before parsing: bytes nobody approved are not even parsed. */
                r = trust_check_image(s, trust, i, name, bufs[i], sizes[i], hash);
                if (r < 0)
                        break;
                r = parse_and_merge(bufs[i], sizes[i], name, &lo, &s->merged, &s->error);
        }
        /* Only a set that parsed is spooled: a rejected call leaves nothing behind. */
        if (r >= 0 && s->spool) {
                uint64_t used = spool_usage(s->spool), more = 0;
                for (size_t i = 0; i < s->n_fds; i++)
                        more += sizes[i];
                if (used + more > s->spool_size_cap)
                        r = dfu_error_set(
                                &s->error, ENOSPC,
                                "The spool for queued jobs and rules is full: %llu bytes used, %llu more "
                                "would pass SpoolSizeCap=%llu.",
                                (unsigned long long)used, (unsigned long long)more,
                                (unsigned long long)s->spool_size_cap);
        }
        for (size_t i = 0; r >= 0 && s->spool && i < s->n_fds; i++) {
                r = spool_write(s->spool, s->hashes[i], bufs[i], sizes[i]);
                if (r < 0) {
                        /* What this set claimed so far is let go; the files go at the next collection. */
                        for (size_t k = 0; k < i; k++)
                                spool_unref(s->spool, s->hashes[k]);
                        r = dfu_error_set(&s->error, -r, "Failed to store image %zu in the spool: %s", i + 1,
                                          strerror(-r));
                }
        }
        s->claimed = r >= 0 && s->spool;
        for (size_t i = 0; i < s->n_fds; i++)
                free(bufs[i]);
        s->result = r < 0 ? (s->error.code ? -s->error.code : -EIO) : 0;
}

int image_set_load_spooled(Spool *spool, uint64_t size_cap, char *const *hashes, const JobOptions *o,
                           Image **ret, DfuError *error) {
        ImageLoadOptions lo = {.has_base = o->has_base, .base = o->base, .size_cap = size_cap};
        _cleanup_(image_freep) Image *merged = NULL;
        size_t i = 0;
        int r;

        for (char *const *h = hashes; h && *h; h++, i++) {
                _cleanup_free_ uint8_t *buf = NULL;
                char name[32];
                size_t size;

                (void)snprintf(name, sizeof(name), "image %zu", i + 1);
                r = spool_read(spool, *h, size_cap, &buf, &size, error);
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

char *image_set_sha256_summary(char *const *hashes) {
        return strv_join(hashes, ",");
}
