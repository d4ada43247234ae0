/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image-internal.h"

void run_builder_done(RunBuilder *b) {
        for (size_t i = 0; i < b->n_runs; i++)
                free(b->runs[i].data);
        b->runs = mfree(b->runs);
        b->n_runs = b->n_allocated = 0;
        b->cur.data = mfree(b->cur.data);
        b->cur = (Run){};
}

static int run_builder_push(RunBuilder *b) {
        if (b->cur.size == 0) {
                b->cur.data = mfree(b->cur.data);
                return 0;
        }
        if (b->n_runs == b->n_allocated) {
                size_t n = MAX(b->n_allocated * 2, (size_t)16);
                Run *runs = realloc(b->runs, n * sizeof(Run));
                if (!runs)
                        return -ENOMEM;
                b->runs = runs;
                b->n_allocated = n;
        }
        b->cur.seq = b->n_runs;
        b->runs[b->n_runs++] = b->cur;
        b->cur = (Run){};
        return 0;
}

static int run_reserve(Run *run, size_t extra) {
        size_t need = (size_t)run->size + extra;
        if (need <= run->allocated)
                return 0;
        /* Exact at first: a file of scattered records must not cost a large block per record. */
        size_t n = MAX(run->allocated * 2, need);
        uint8_t *d = realloc(run->data, n);
        if (!d)
                return -ENOMEM;
        run->data = d;
        run->allocated = n;
        return 0;
}

int run_builder_add(RunBuilder *b, uint32_t address, const uint8_t *data, size_t len, unsigned line,
                    DfuError *error) {
        int r;

        if (len == 0)
                return 0;
        if (b->cur.size == 0 || (uint64_t)b->cur.address + b->cur.size != address) {
                r = run_builder_push(b);
                if (r < 0)
                        return dfu_error_set(error, r, "out of memory");
                b->cur.address = address;
                b->cur.line = line;
        }
        r = run_reserve(&b->cur, len);
        if (r < 0)
                return dfu_error_set(error, r, "out of memory");
        memcpy(b->cur.data + b->cur.size, data, len);
        b->cur.size += (uint32_t)len;
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

/* Folds runs[i] into seg, which ends at or after runs[i].address. */
static int run_fold(Run *seg, const Run *runs, size_t i, const char *source, DfuError *error) {
        const Run *r = &runs[i];
        uint64_t seg_end = run_end(seg), end = run_end(r);
        uint64_t overlap_end = MIN(seg_end, end);

        for (uint64_t a = r->address; a < overlap_end; a++) {
                if (seg->data[a - seg->address] == r->data[a - r->address])
                        continue;
                uint64_t b = a;
                while (b + 1 < overlap_end && seg->data[b + 1 - seg->address] != r->data[b + 1 - r->address])
                        b++;
                return run_conflict(runs, i, a, b, source, error);
        }
        if (end <= seg_end)
                return 0;

        size_t extra = (size_t)(end - seg_end);
        if (run_reserve(seg, extra) < 0)
                return dfu_error_set(error, ENOMEM, "%s: out of memory", source);
        memcpy(seg->data + seg->size, r->data + (seg_end - r->address), extra);
        seg->size += (uint32_t)extra;
        return 0;
}

static int image_take_run(Image *image, Run *seg, const char *source, DfuError *error) {
        Segment s = {.address = seg->address, .size = seg->size, .alt_setting = -1};

        s.source = strdup(source);
        if (!s.source)
                return dfu_error_set(error, ENOMEM, "%s: out of memory", source);
        s.data = realloc(seg->data, seg->size) ?: seg->data; /* give back the growth slack */
        seg->data = NULL;
        image->segments[image->n_segments++] = s;
        return 0;
}

static int run_builder_install(RunBuilder *b, Image *image, const char *source, DfuError *error) {
        Run seg = {};
        int r = 0;

        /* The builder's runs are disjoint after folding, so each becomes a segment as it is. */
        image->segments = calloc(b->n_runs, sizeof(Segment));
        if (!image->segments)
                return dfu_error_set(error, ENOMEM, "%s: out of memory", source);

        for (size_t i = 0; i < b->n_runs; i++) {
                Run *run = &b->runs[i];
                if (i > 0 && run->address <= run_end(&seg)) {
                        r = run_fold(&seg, b->runs, i, source, error);
                        if (r < 0)
                                break;
                        continue;
                }
                if (seg.data) {
                        r = image_take_run(image, &seg, source, error);
                        if (r < 0)
                                break;
                }
                seg = *run;
                run->data = NULL; /* now owned by seg; address, size and line stay for messages */
        }
        if (r >= 0 && seg.data)
                r = image_take_run(image, &seg, source, error);
        free(seg.data);
        return r;
}

int run_builder_finish(RunBuilder *b, Image *image, const char *source, DfuError *error) {
        int r;

        r = run_builder_push(b);
        if (r < 0)
                return dfu_error_set(error, r, "%s: out of memory", source);
        if (b->n_runs == 0)
                return 0;

        qsort(b->runs, b->n_runs, sizeof(Run), run_compare);

        if (image->n_segments == 0) {
                free(image->segments);
                r = run_builder_install(b, image, source, error);
        } else
                for (size_t i = 0; i < b->n_runs && r >= 0; i++)
                        r = image_add_segment(image, b->runs[i].address, b->runs[i].data, b->runs[i].size,
                                              source, -1, error);
        run_builder_done(b);
        return r;
}
