/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"

/*
 * Times what the daemon pays for its history, against a state directory history-fill made: store_open()
 * (with its RSS right after), and store_history_query() for the newest 50, the newest 50 of one serial,
 * and a page 1,000 entries back by cursor. Prints one line of figures:
 *   open_ms rss_kib p50/p99 (usec) of each query, rss_kib after the queries
 * usage: history-query DIR [CALLS]
 */

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static long rss_kib(void) {
        _cleanup_fclose_ FILE *f = fopen("/proc/self/status", "re");
        char line[256];
        long kib = -1;

        while (f && fgets(line, sizeof(line), f))
                if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
                        break;
        return kib;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

/* Runs the query `calls` times; prints p50 and p99 in microseconds. Each reply holds at least `least`. */
static int time_query(Store *s, const StoreHistoryFilter *flt, size_t calls, size_t least) {
        _cleanup_free_ uint64_t *t = calloc(calls, sizeof(uint64_t));

        if (!t)
                return -ENOMEM;
        for (size_t i = 0; i < calls; i++) {
                StoreHistory *h = NULL;
                uint64_t t0 = now_usec();
                int r = store_history_query(s, flt, &h);
                t[i] = now_usec() - t0;
                if (r < 0)
                        return r;
                if (h->n < least) {
                        store_history_free(h);
                        return -EBADMSG;
                }
                store_history_free(h);
        }
        qsort(t, calls, sizeof(uint64_t), cmp_u64);
        printf(" %" PRIu64 " %" PRIu64, t[calls / 2], t[(calls * 99) / 100]);
        return 0;
}

static int run(Store *s, size_t calls) {
        StoreHistory *h = NULL;
        StoreHistoryFilter newest = {.limit = 50}, back = {.limit = 50}, serial = {.limit = 50};
        char serial_buf[64];
        int r;

        /* A serial and a cursor taken from replies, as a client would. */
        r = store_history_query(s, &(StoreHistoryFilter){.limit = 1000}, &h);
        if (r < 0)
                return r;
        if (h->n < 1000) {
                store_history_free(h);
                return -ENODATA;
        }
        back.before = h->entries[0].cursor;
        (void)snprintf(serial_buf, sizeof(serial_buf), "%s", h->entries[h->n - 1].serial);
        serial.serial = serial_buf;
        store_history_free(h);

        r = time_query(s, &newest, calls, 50);
        if (r >= 0)
                r = time_query(s, &serial, calls, 1);
        if (r >= 0)
                r = time_query(s, &back, calls, 50);
        return r;
}

int main(int argc, char **argv) {
        _cleanup_free_ char *error = NULL;
        StoreState *state = NULL;
        sd_event *event = NULL;
        Store *s = NULL;
        size_t calls = argc > 2 ? strtoul(argv[2], NULL, 10) : 200;
        uint64_t t0;
        int r;

        if (argc < 2 || calls == 0) {
                fprintf(stderr, "usage: %s DIR [CALLS]\n", argv[0]);
                return 2;
        }
        r = sd_event_new(&event);
        t0 = now_usec();
        if (r >= 0)
                r = store_open(argv[1], event, &s, &state, &error);
        if (r < 0) {
                fprintf(stderr, "history-query: %s\n", error ? error : strerror(-r));
                sd_event_unref(event);
                return 1;
        }
        printf("%.1f %ld", (double)(now_usec() - t0) / 1000.0, rss_kib());
        r = run(s, calls);
        printf(" %ld\n", rss_kib());
        store_state_free(state);
        store_close(s);
        sd_event_unref(event);
        if (r < 0) {
                fprintf(stderr, "history-query: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}
