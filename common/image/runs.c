/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image-internal.h"

void run_builder_done(RunBuilder *b) {
        free(b->runs);
        free(b->data);
        *b = (RunBuilder){};
}

static int grow(void **p, size_t *allocated, size_t need, size_t elem) {
        if (need <= *allocated)
                return 0;
        size_t n = MAX(MAX(*allocated * 2, need), (size_t)64);
        if (n > SIZE_MAX / elem)
                return -ENOMEM;
        void *q = realloc(*p, n * elem);
        if (!q)
                return -ENOMEM;
        *p = q;
        *allocated = n;
        return 0;
}

static bool run_builder_continues(const RunBuilder *b, uint32_t address, size_t len) {
        if (b->n_runs == 0)
                return false;
        const Run *last = &b->runs[b->n_runs - 1];
        return (uint64_t)last->address + last->size == address && (uint64_t)last->size + len <= UINT32_MAX;
}

int run_builder_add(RunBuilder *b, uint32_t address, const uint8_t *data, size_t len, unsigned line,
                    DfuError *error) {
        if (len == 0)
                return 0;
        if (grow((void **)&b->data, &b->data_allocated, b->data_size + len, 1) < 0)
                return dfu_error_set(error, ENOMEM, "out of memory");
        if (!run_builder_continues(b, address, len)) {
                if (b->n_runs >= UINT32_MAX ||
                    grow((void **)&b->runs, &b->n_allocated, b->n_runs + 1, sizeof(Run)) < 0)
                        return dfu_error_set(error, ENOMEM, "out of memory");
                b->runs[b->n_runs] = (Run){
                        .address = address,
                        .offset = b->data_size,
                        .line = line,
                        .seq = (uint32_t)b->n_runs,
                };
                b->n_runs++;
        }
        memcpy(b->data + b->data_size, data, len);
        b->data_size += len;
        b->runs[b->n_runs - 1].size += (uint32_t)len;
        return 0;
}

static int run_compare(const void *x, const void *y) {
        const Run *a = x, *b = y;
        if (a->address != b->address)
                return a->address < b->address ? -1 : 1;
        return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static uint64_t run_end(const Run *r) {
        return (uint64_t)r->address + r->size;
}

/* runs[i] disagrees with what came before it at address a..b: find the run that gave the old bytes. */
static int run_conflict(const Run *runs, size_t i, uint64_t a, uint64_t b, const char *source,
                        DfuError *error) {
        unsigned earlier = runs[i].line;
        for (size_t j = i; j-- > 0;)
                if (runs[j].address <= a && run_end(&runs[j]) > a) {
                        earlier = runs[j].line;
                        break;
                }
        return dfu_error_set(error, EINVAL,
                             "%s: line %u: bytes at 0x%08" PRIX64 "-0x%08" PRIX64
                             " differ from those given for the same addresses at line %u",
                             source, runs[i].line, a, b, earlier);
}

/* Sorted runs that touch or overlap form one segment: how many segments, and where each ends. */
static size_t run_group_end(const Run *runs, size_t n, size_t first, uint64_t *ret_end) {
        uint64_t end = run_end(&runs[first]);
        size_t i = first + 1;

        for (; i < n && runs[i].address <= end; i++)
                end = MAX(end, run_end(&runs[i]));
        *ret_end = end;
        return i;
}

static size_t run_count_segments(const Run *runs, size_t n) {
        size_t count = 0;
        uint64_t end;

        for (size_t i = 0; i < n; i = run_group_end(runs, n, i, &end))
                count++;
        return count;
}

/* Copies runs[first..last) into seg (address..end), checking that overlapping bytes agree. */
static int run_group_copy(const RunBuilder *b, size_t first, size_t last, uint8_t *seg, const char *source,
                          DfuError *error) {
        uint32_t base = b->runs[first].address;
        uint64_t filled = base; /* bytes below this are in seg */

        for (size_t i = first; i < last; i++) {
                const Run *r = &b->runs[i];
                const uint8_t *d = b->data + r->offset;
                uint64_t overlap_end = MIN(filled, run_end(r));

                for (uint64_t a = r->address; a < overlap_end; a++) {
                        if (seg[a - base] == d[a - r->address])
                                continue;
                        uint64_t e = a;
                        while (e + 1 < overlap_end && seg[e + 1 - base] != d[e + 1 - r->address])
                                e++;
                        return run_conflict(b->runs, i, a, e, source, error);
                }
                if (run_end(r) > filled) {
                        memcpy(seg + (filled - base), d + (filled - r->address), run_end(r) - filled);
                        filled = run_end(r);
                }
        }
        return 0;
}

static int run_builder_install(RunBuilder *b, Image *image, size_t n_segments, const char *source,
                               DfuError *error) {
        image->segments = calloc(n_segments, sizeof(Segment));
        if (!image->segments)
                return dfu_error_set(error, ENOMEM, "%s: out of memory", source);
        image->n_allocated = n_segments;

        uint64_t end;
        for (size_t i = 0, next; i < b->n_runs; i = next) {
                next = run_group_end(b->runs, b->n_runs, i, &end);
                Segment s = {
                        .address = b->runs[i].address,
                        .size = (uint32_t)(end - b->runs[i].address),
                        .alt_setting = -1,
                };
                s.data = malloc(s.size);
                s.source = strdup(source);
                /* Owned by the image from here on, also when the copy fails. */
                image->segments[image->n_segments++] = s;
                if (!s.data || !s.source)
                        return dfu_error_set(error, ENOMEM, "%s: out of memory", source);
                int r = run_group_copy(b, i, next, s.data, source, error);
                if (r < 0)
                        return r;
        }
        return 0;
}

int run_builder_finish(RunBuilder *b, Image *image, const char *source, DfuError *error) {
        int r = 0;

        if (b->n_runs == 0)
                return 0;

        qsort(b->runs, b->n_runs, sizeof(Run), run_compare);

        /* Counted before anything is allocated for them. */
        size_t n = run_count_segments(b->runs, b->n_runs);
        if (n > IMAGE_SEGMENT_CAP)
                r = dfu_error_set(error, EFBIG,
                                  "%s: more than %u separate segments (%zu after joining adjacent "
                                  "records); firmware has a few dozen: is this a data dump?",
                                  source, IMAGE_SEGMENT_CAP, n);
        else if (image->n_segments == 0) {
                image->segments = mfree(image->segments);
                image->n_allocated = 0;
                r = run_builder_install(b, image, n, source, error);
        } else
                for (size_t i = 0; i < b->n_runs && r >= 0; i++)
                        r = image_add_segment(image, b->runs[i].address, b->data + b->runs[i].offset,
                                              b->runs[i].size, source, -1, error);
        run_builder_done(b);
        return r;
}
