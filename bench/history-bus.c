/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>

#include "macro.h"

/*
 * GetHistory latency through the session bus, as a client sees it: the newest 50, the newest 50 of
 * one serial, a page 1,000 entries back (cursor from an earlier reply). Prints p50 and p99 in
 * microseconds for each, on one line.
 * usage: history-bus [CALLS]
 */

#define DEST  "org.dfusd.Flash1"
#define PATH  "/org/dfusd/Flash1"
#define IFACE "org.dfusd.Flash1.Manager"

typedef struct Query {
        const char *serial;
        uint64_t before;
        uint32_t limit;
} Query;

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int call(sd_bus *bus, const Query *q, sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, DEST, PATH, IFACE, "GetHistory");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && q->serial)
                r = sd_bus_message_append(m, "{sv}", "serial", "s", q->serial);
        if (r >= 0 && q->before)
                r = sd_bus_message_append(m, "{sv}", "before", "t", q->before);
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}", "limit", "u", q->limit);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_call(bus, m, 30 * 1000000u, &error, ret);
        if (r < 0)
                fprintf(stderr, "history-bus: GetHistory: %s\n",
                        error.message ? error.message : strerror(-r));
        sd_bus_error_free(&error);
        return r;
}

/* From the first (oldest) entry of a reply: its cursor and serial. */
static int first_entry(sd_bus_message *reply, uint64_t *cursor, char *serial, size_t size) {
        const char *key;
        int r = sd_bus_message_enter_container(reply, 'a', "a{sv}");

        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (r > 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                r = sd_bus_message_read(reply, "s", &key);
                if (r >= 0 && streq(key, "cursor"))
                        r = sd_bus_message_read(reply, "v", "t", cursor);
                else if (r >= 0 && streq(key, "serial")) {
                        const char *s;
                        r = sd_bus_message_read(reply, "v", "s", &s);
                        if (r >= 0)
                                (void)snprintf(serial, size, "%s", s);
                } else if (r >= 0)
                        r = sd_bus_message_skip(reply, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
        }
        return r < 0 ? r : *cursor > 0 ? 0 : -ENODATA;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

static int time_calls(sd_bus *bus, const Query *q, size_t calls) {
        _cleanup_free_ uint64_t *t = calloc(calls, sizeof(uint64_t));

        if (!t)
                return -ENOMEM;
        for (size_t i = 0; i < calls; i++) {
                sd_bus_message *reply = NULL;
                uint64_t t0 = now_usec();
                int r = call(bus, q, &reply);
                t[i] = now_usec() - t0;
                sd_bus_message_unref(reply);
                if (r < 0)
                        return r;
        }
        qsort(t, calls, sizeof(uint64_t), cmp_u64);
        printf(" %" PRIu64 " %" PRIu64, t[calls / 2], t[(calls * 99) / 100]);
        return 0;
}

int main(int argc, char **argv) {
        sd_bus *bus = NULL;
        sd_bus_message *reply = NULL;
        size_t calls = argc > 1 ? strtoul(argv[1], NULL, 10) : 200;
        char serial[128] = "";
        uint64_t cursor = 0;
        int r;

        r = sd_bus_open_user(&bus);
        if (r >= 0)
                r = call(bus, &(Query){.limit = 1000}, &reply);
        if (r >= 0)
                r = first_entry(reply, &cursor, serial, sizeof(serial));
        sd_bus_message_unref(reply);
        if (r >= 0)
                r = time_calls(bus, &(Query){.limit = 50}, calls);
        if (r >= 0)
                r = time_calls(bus, &(Query){.serial = serial, .limit = 50}, calls);
        if (r >= 0)
                r = time_calls(bus, &(Query){.before = cursor, .limit = 50}, calls);
        printf("\n");
        sd_bus_flush_close_unref(bus);
        if (r < 0) {
                fprintf(stderr, "history-bus: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}
