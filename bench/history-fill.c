/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"

/*
 * Fills a state directory with N ended jobs written through the store, as a farm of 500 boards would
 * leave them: ports 1-1.1 .. 1-1.500 each with its own serial, a few images, mostly successes.
 * usage: history-fill DIR N
 */

#define BOARDS    500
#define IN_FLIGHT 8192

static const char *const images[] = {
        "3f1a0e55c4b8a2d7e9f60c1b5a4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d",
        "9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b",
        "0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d",
        "e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4",
};

typedef struct Fill {
        uint64_t done, failed;
} Fill;

static void on_done(int result, void *userdata) {
        Fill *f = userdata;
        f->done++;
        if (result < 0)
                f->failed++;
}

static double now_sec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fill(Store *s, sd_event *event, uint64_t n, Fill *f) {
        char port[32], serial[32];
        uint64_t base = 1700000000000000ull; /* realtime usec, one job every 2 s */

        for (uint64_t i = 1; i <= n; i++) {
                unsigned board = (unsigned)(i % BOARDS) + 1;
                unsigned pick = (unsigned)((i * 2654435761u) % 100);
                (void)snprintf(port, sizeof(port), "1-1.%u", board);
                (void)snprintf(serial, sizeof(serial), "3%07X%04X", board * 7919u, board);
                StoreJobEnd j = {
                        .id = (uint32_t)i,
                        .result = pick < 90   ? "done"
                                  : pick < 98 ? "failed"
                                              : "cancelled",
                        .error = pick < 90   ? NULL
                                 : pick < 98 ? "Verify failed at 0x08004000"
                                             : NULL,
                        .port = port,
                        .serial = serial,
                        .station = "bench",
                        .target = "any",
                        .image_sha256 = images[(i / 1000) % ELEMENTSOF(images)],
                        .submit_usec = base + i * 2000000 - 1500000,
                        .start_usec = base + i * 2000000 - 1400000,
                        .end_usec = base + i * 2000000,
                        .bytes = 262144,
                };
                int r = store_job_end(s, &j, on_done, f);
                if (r < 0)
                        return r;
                /* Bounded: the queue never holds more than IN_FLIGHT writes. */
                while (i - f->done >= IN_FLIGHT)
                        if ((r = sd_event_run(event, UINT64_MAX)) < 0)
                                return r;
        }
        while (f->done < n) {
                int r = sd_event_run(event, UINT64_MAX);
                if (r < 0)
                        return r;
        }
        return 0;
}

int main(int argc, char **argv) {
        _cleanup_free_ char *error = NULL;
        sd_event *event = NULL;
        Store *s = NULL;
        Fill f = {};
        uint64_t n;
        double t0;
        int r;

        if (argc != 3) {
                fprintf(stderr, "usage: %s DIR N\n", argv[0]);
                return 2;
        }
        n = strtoull(argv[2], NULL, 10);
        if (n == 0 || n > UINT32_MAX - 1) {
                fprintf(stderr, "N must be between 1 and %" PRIu32 "\n", UINT32_MAX - 1);
                return 2;
        }
        r = sd_event_new(&event);
        if (r >= 0)
                r = store_open(argv[1], event, &s, NULL, &error);
        if (r < 0) {
                fprintf(stderr, "history-fill: %s\n", error ? error : strerror(-r));
                sd_event_unref(event);
                return 1;
        }
        t0 = now_sec();
        r = fill(s, event, n, &f);
        store_close(s);
        sd_event_unref(event);
        if (r < 0 || f.failed > 0) {
                fprintf(stderr, "history-fill: %" PRIu64 " writes failed: %s\n", f.failed,
                        strerror(r < 0 ? -r : EIO));
                return 1;
        }
        printf("%.2f\n", now_sec() - t0);
        return 0;
}
