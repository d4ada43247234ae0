/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-json.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "sse.h"
#include "time-util.h"

/* Events kept for reconnecting browsers; a change of one board is one event. */
#define SSE_RING 512
/* A browser this far behind is gone or too slow to be worth the memory. */
#define SSE_BACKLOG_MAX (8u << 20)
/* A comment line this often keeps proxies and the connection timeout from closing idle streams. */
#define SSE_KEEPALIVE_USEC (15 * USEC_PER_SEC)
#define SSE_RETRY_MSEC     2000

typedef struct SseEvent {
        uint64_t id;
        char *text;
} SseEvent;

typedef struct SseClient {
        Sse *sse;
        struct MHD_Connection *conn;
        char *buf;
        size_t len, off, size;
        bool suspended, dead;
} SseClient;

struct Sse {
        sd_event_source *keepalive;
        SseClient **clients;
        unsigned n_clients, max_clients;
        SseEvent ring[SSE_RING];
        uint64_t last_id;
        SseSnapshotFn snapshot;
        void *userdata;
};

static void client_wake(SseClient *c) {
        if (c->suspended) {
                c->suspended = false;
                MHD_resume_connection(c->conn);
        }
}

static int client_append(SseClient *c, const char *text, size_t n) {
        if (c->dead)
                return 0;
        if (c->len - c->off + n > SSE_BACKLOG_MAX) {
                log_info("Dropping an event stream client that stopped reading.");
                c->dead = true;
                client_wake(c);
                return 0;
        }
        if (c->off > 0 && c->off == c->len)
                c->off = c->len = 0;
        if (c->len + n > c->size) {
                size_t want = MAX(c->len + n, c->size * 2);
                char *b;
                if (c->off > 0) { /* make room at the front first */
                        memmove(c->buf, c->buf + c->off, c->len - c->off);
                        c->len -= c->off;
                        c->off = 0;
                }
                if (c->len + n > c->size) {
                        b = realloc(c->buf, want);
                        if (!b)
                                return -ENOMEM;
                        c->buf = b;
                        c->size = want;
                }
        }
        memcpy(c->buf + c->len, text, n);
        c->len += n;
        client_wake(c);
        return 0;
}

static int keepalive(sd_event_source *es, uint64_t usec, void *userdata) {
        Sse *s = userdata;
        static const char ping[] = ": keepalive\n\n";

        for (unsigned i = 0; i < s->n_clients; i++)
                (void)client_append(s->clients[i], ping, sizeof(ping) - 1);
        return sd_event_source_set_time(es, usec + SSE_KEEPALIVE_USEC);
}

int sse_new(sd_event *event, unsigned max_clients, SseSnapshotFn snapshot, void *userdata, Sse **ret) {
        Sse *s = calloc(1, sizeof(*s));
        uint64_t now;
        int r;

        if (!s)
                return -ENOMEM;
        *s = (Sse){.max_clients = max_clients, .snapshot = snapshot, .userdata = userdata};
        s->clients = calloc(max_clients, sizeof(SseClient *));
        if (!s->clients) {
                sse_free(s);
                return -ENOMEM;
        }
        r = sd_event_now(event, CLOCK_MONOTONIC, &now);
        if (r >= 0)
                r = sd_event_add_time(event, &s->keepalive, CLOCK_MONOTONIC, now + SSE_KEEPALIVE_USEC, 0,
                                      keepalive, s);
        if (r < 0) {
                sse_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

static void ring_clear(Sse *s) {
        for (size_t i = 0; i < SSE_RING; i++)
                s->ring[i].text = mfree(s->ring[i].text);
}

Sse *sse_free(Sse *s) {
        if (!s)
                return NULL;
        /* the clients belong to their responses, which the HTTP server frees */
        for (unsigned i = 0; i < s->n_clients; i++)
                s->clients[i]->sse = NULL;
        free(s->clients);
        ring_clear(s);
        sd_event_source_disable_unref(s->keepalive);
        free(s);
        return NULL;
}

static char *format_event(uint64_t id, const char *event, json_object *data) {
        char *text = NULL;

        /* JSON_C_TO_STRING_PLAIN writes no newline, so the data is one "data:" line */
        if (asprintf(&text, "id: %" PRIu64 "\nevent: %s\ndata: %s\n\n", id, event,
                     json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN)) < 0)
                return NULL;
        return text;
}

int sse_broadcast(Sse *s, const char *event, json_object *data) {
        uint64_t id = s->last_id + 1;
        char *text = format_event(id, event, data);
        SseEvent *slot;
        size_t n;

        if (!text)
                return -ENOMEM;
        if (streq(event, "snapshot"))
                ring_clear(s);
        s->last_id = id;
        slot = &s->ring[id % SSE_RING];
        free(slot->text);
        *slot = (SseEvent){id, text};
        n = strlen(text);
        for (unsigned i = 0; i < s->n_clients; i++)
                if (client_append(s->clients[i], text, n) < 0)
                        return -ENOMEM;
        return 0;
}

static ssize_t client_read(void *cls, uint64_t pos, char *buf, size_t max) {
        SseClient *c = cls;
        size_t n;

        if (c->dead || !c->sse)
                return MHD_CONTENT_READER_END_WITH_ERROR;
        if (c->off == c->len) {
                /* Nothing to send: park the connection until the next event resumes it. */
                c->suspended = true;
                MHD_suspend_connection(c->conn);
                return 0;
        }
        n = MIN(max, c->len - c->off);
        memcpy(buf, c->buf + c->off, n);
        c->off += n;
        return (ssize_t)n;
}

static void client_free(void *cls) {
        SseClient *c = cls;
        Sse *s = c->sse;

        for (unsigned i = 0; s && i < s->n_clients; i++)
                if (s->clients[i] == c) {
                        s->clients[i] = s->clients[--s->n_clients];
                        break;
                }
        free(c->buf);
        free(c);
}

/* What a new client gets first: the events after last_event_id if all are still kept, else a
 * snapshot that carries the current id. */
static int client_start(Sse *s, SseClient *c, const char *last_event_id) {
        char retry[32];
        uint64_t from;
        int n = snprintf(retry, sizeof(retry), "retry: %u\n\n", SSE_RETRY_MSEC);
        int r = client_append(c, retry, (size_t)n);

        if (r < 0)
                return r;
        if (last_event_id && parse_uint64(last_event_id, 10, UINT64_MAX, &from) >= 0 && from <= s->last_id &&
            s->last_id - from < SSE_RING) {
                bool complete = true;
                for (uint64_t id = from + 1; id <= s->last_id; id++)
                        if (!s->ring[id % SSE_RING].text || s->ring[id % SSE_RING].id != id)
                                complete = false;
                for (uint64_t id = from + 1; complete && id <= s->last_id; id++) {
                        r = client_append(c, s->ring[id % SSE_RING].text,
                                          strlen(s->ring[id % SSE_RING].text));
                        if (r < 0)
                                return r;
                }
                if (complete)
                        return 0;
        }
        _cleanup_(json_object_putp) json_object *snap = s->snapshot(s->userdata);
        _cleanup_free_ char *text = snap ? format_event(s->last_id, "snapshot", snap) : NULL;
        if (!text)
                return -ENOMEM;
        return client_append(c, text, strlen(text));
}

int sse_response(Sse *s, struct MHD_Connection *conn, const char *last_event_id, struct MHD_Response **ret) {
        struct MHD_Response *resp;
        SseClient *c;
        int r;

        if (s->n_clients >= s->max_clients)
                return -EBUSY;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        *c = (SseClient){.sse = s, .conn = conn};
        r = client_start(s, c, last_event_id);
        if (r < 0) {
                free(c->buf);
                free(c);
                return r;
        }
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, client_read, c, client_free);
        if (!resp) {
                free(c->buf);
                free(c);
                return -ENOMEM;
        }
        s->clients[s->n_clients++] = c;
        *ret = resp;
        return 0;
}

unsigned sse_n_clients(const Sse *s) {
        return s->n_clients;
}

uint64_t sse_last_id(const Sse *s) {
        return s->last_id;
}

void sse_close_all(Sse *s) {
        for (unsigned i = 0; i < s->n_clients; i++) {
                s->clients[i]->dead = true;
                client_wake(s->clients[i]);
        }
}
