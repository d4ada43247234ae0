/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifdef DFUSCTL_HAVE_BUS

#include <time.h>

#include "redraw.h"

#define REDRAW_USEC (100 * 1000ULL)

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void redraw_now(Redraw *r) {
        r->draw(r->userdata);
        r->last = now_usec();
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Redraw *r = userdata;

        r->timer = sd_event_source_unref(r->timer);
        redraw_now(r);
        return 0;
}

void redraw_soon(Redraw *r, sd_event *event) {
        if (r->timer)
                return;
        if (!event || now_usec() >= r->last + REDRAW_USEC ||
            sd_event_add_time(event, &r->timer, CLOCK_MONOTONIC, r->last + REDRAW_USEC, 0, on_timer, r) < 0)
                redraw_now(r);
}

void redraw_done(Redraw *r) {
        r->timer = sd_event_source_unref(r->timer);
}

#endif
