/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Server-Sent Events: every change of the mirror goes to every connected browser as one event
 * ("id: N", "event: KIND", "data: JSON"). The last events are kept, so a browser that reconnects with
 * Last-Event-ID gets what it missed; one that missed more, or comes new, gets a snapshot first. A
 * client that stops reading is dropped once its backlog passes a cap, so no client holds memory
 * without bound; the number of clients is capped as well.
 */

#include <json-c/json.h>
#include <microhttpd.h>
#include <stdint.h>
#include <systemd/sd-event.h>

typedef struct Sse Sse;

/* Builds the current snapshot for a client that needs one. */
typedef json_object *(*SseSnapshotFn)(void *userdata);

int sse_new(sd_event *event, unsigned max_clients, SseSnapshotFn snapshot, void *userdata, Sse **ret);
Sse *sse_free(Sse *s);

/* Sends the event to every client (and keeps it for reconnects). A "snapshot" event supersedes
 * everything before it. Returns 0 or -ENOMEM. */
int sse_broadcast(Sse *s, const char *event, json_object *data);
/* The streaming response for a new client; -EBUSY when there are too many, -ENOMEM. */
int sse_response(Sse *s, struct MHD_Connection *conn, const char *last_event_id, struct MHD_Response **ret);
unsigned sse_n_clients(const Sse *s);
uint64_t sse_last_id(const Sse *s);
/* Ends every stream, so that the HTTP server can stop. */
void sse_close_all(Sse *s);
