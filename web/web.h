/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * dfusd-web: the line's HTTP face of dfusd. One thread, one sd-event loop: the bus connection to
 * dfusd, libmicrohttpd (driven through its epoll fd) and the Server-Sent Event clients all run on it,
 * so the mirror of dfusd's objects needs no locks.
 */

#include <stdbool.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "auth.h"
#include "config.h"
#include "metrics.h"
#include "mirror.h"

typedef struct Http Http;
typedef struct Sse Sse;

typedef struct Web {
        sd_event *event;
        sd_bus *bus;
        bool user_bus;
        WebConfig config;
        Tokens *tokens;
        Mirror mirror;
        Metrics metrics;
        Http *http;
        Sse *sse;
} Web;

/* The mirror changed: an object of KIND ("device", "job", "rule") at PATH was added or changed
 * (removed: false) or went away. Tells the browsers and the metrics. */
void web_object_changed(Web *w, const char *kind, const char *path, bool removed);
/* dfusd came, went or was read again: every browser gets a new snapshot. */
void web_resynced(Web *w);
