/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include <systemd/sd-event.h>

/*
 * A live screen is redrawn at most ten times a second, however many boards report: an event within
 * 100 ms of the last redraw waits for a timer that shows it and everything after it.
 */
typedef struct Redraw {
        void (*draw)(void *userdata);
        void *userdata;
        sd_event_source *timer;
        uint64_t last; /* CLOCK_MONOTONIC µs */
} Redraw;

/* Draws now. */
void redraw_now(Redraw *r);
/* Draws now, or from a timer on event when the last redraw was too recent; without an event loop,
 * always now. Nothing when a timer is already pending. */
void redraw_soon(Redraw *r, sd_event *event);
/* Drops a pending timer. */
void redraw_done(Redraw *r);
