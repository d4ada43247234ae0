/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dfusd-web's event stream under load: N simulated boards flash while C clients hold
 * /api/v1/events open. One thread watches the bus (an sd-bus match on dfusd's PropertiesChanged),
 * another reads every client's socket in one poll() loop; both stamp what they get with
 * CLOCK_MONOTONIC as it comes, in one process, so the clocks are the same and neither waits for the
 * other. Afterwards each PropertiesChanged is
 * matched to the first event for the same object that carries its values (device by port, job by id;
 * the properties dfusd-web shows, under their JSON names), and the latency of that event is taken on
 * every client. Prints p50/p99/max over all (change, client) pairs, the changes no event carried or a
 * client did not get, and dfusd-web's CPU time over the run and peak RSS. Figures, nothing asserted.
 *
 * Usage: sse-bench [--boards 32] [--clients 100] [--size BYTES] [--time-scale X]
 * (DFUSD_BIN, DFUSD_SIM and DFUSD_WEB name the programs, as for the web tests.)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "bench-proc.h"
#include "harness.h"
#include "web-client.h"

#define FLASH_BASE     0x08000000u
#define MATCH_SLACK_US 10000

static uint64_t now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* One PropertiesChanged of a device or job: the values, under dfusd-web's names, and when it came. */
typedef struct Change {
        char *object; /* "device:PORT" or "job:ID" */
        json_object *values;
        uint64_t at_us;
        uint64_t event_id; /* of the event that carries it; 0: none */
} Change;

/* An event seen on the stream (the same id is the same event on every client). */
typedef struct Event {
        uint64_t id;
        uint64_t first_us; /* on the first client that had it */
        char *object;
        json_object *data;
} Event;

typedef struct Client {
        int fd;
        GString *raw;      /* bytes read and not yet de-chunked */
        bool head_done;    /* the response head is behind us */
        size_t chunk_left; /* of the current chunk, with its closing CRLF */
        GString *buf;      /* body bytes not yet split into events */
        GArray *seen;      /* (id, at_us) pairs */
        bool snapshot, closed;
} Client;

typedef struct Seen {
        uint64_t id, at_us;
} Seen;

typedef struct Bench {
        sd_bus *bus;
        Client *clients;
        unsigned n_clients;
        GArray *changes;    /* Change */
        GHashTable *events; /* id -> Event* */
        int stop_fd;
} Bench;

/* dfusd's property names as dfusd-web shows them (web/repr.c): only these can be matched. */
static const char *json_name(const char *kind, const char *prop) {
        static const char *const job[][2] = {
                {"State", "state"},
                {"Progress", "progress"},
                {"BytesDone", "bytes_done"},
                {"BytesTotal", "bytes_total"},
                {"Rate", "rate"},
                {"Error", "error"},
                {"StartTime", "start_time"},
                {"EndTime", "end_time"},
                {"ExpectedEndTime", "expected_end_time"},
        };
        static const char *const device[][2] = {{"State", "state"}, {"Part", "part"}, {"Serial", "serial"}};

        if (g_str_equal(kind, "job")) {
                for (size_t i = 0; i < G_N_ELEMENTS(job); i++)
                        if (g_str_equal(prop, job[i][0]))
                                return job[i][1];
        } else
                for (size_t i = 0; i < G_N_ELEMENTS(device); i++)
                        if (g_str_equal(prop, device[i][0]))
                                return device[i][1];
        return NULL;
}

static json_object *variant_json(sd_bus_message *m) {
        char type;
        const char *contents;
        union {
                const char *s;
                uint64_t t;
                uint32_t u;
                int b;
                double d;
        } v;

        if (sd_bus_message_peek_type(m, &type, &contents) <= 0 || type != 'v' ||
            sd_bus_message_enter_container(m, 'v', contents) < 0)
                return NULL;
        json_object *o = NULL;
        switch (contents[0]) {
        case 's':
        case 'o':
                if (sd_bus_message_read_basic(m, contents[0], &v.s) >= 0)
                        o = json_object_new_string(v.s);
                break;
        case 't':
                if (sd_bus_message_read_basic(m, 't', &v.t) >= 0)
                        o = json_object_new_uint64(v.t);
                break;
        case 'u':
                if (sd_bus_message_read_basic(m, 'u', &v.u) >= 0)
                        o = json_object_new_uint64(v.u);
                break;
        case 'b':
                if (sd_bus_message_read_basic(m, 'b', &v.b) >= 0)
                        o = json_object_new_boolean(v.b);
                break;
        case 'd':
                if (sd_bus_message_read_basic(m, 'd', &v.d) >= 0)
                        o = json_object_new_double(v.d);
                break;
        default:
                (void)sd_bus_message_skip(m, contents);
        }
        (void)sd_bus_message_exit_container(m);
        return o;
}

/* "device:PORT" or "job:ID" for a dfusd object path, or NULL. */
static char *object_of_path(const char *path) {
        g_autofree char *id = NULL;

        if (sd_bus_path_decode(path, DFUSD_PATH "/device", &id) > 0)
                return g_strconcat("device:", id, NULL);
        if (sd_bus_path_decode(path, DFUSD_PATH "/job", &id) > 0)
                return g_strconcat("job:", id, NULL);
        return NULL;
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        uint64_t stamp = now_us();
        Bench *b = userdata;
        g_autofree char *object = object_of_path(sd_bus_message_get_path(m));
        const char *iface, *prop;
        json_object *values;

        if (!object || sd_bus_message_read(m, "s", &iface) < 0 ||
            sd_bus_message_enter_container(m, 'a', "{sv}") < 0)
                return 0;
        values = json_object_new_object();
        while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
                json_object *v;
                if (sd_bus_message_read(m, "s", &prop) < 0)
                        break;
                v = variant_json(m);
                const char *name = json_name(g_str_has_prefix(object, "job:") ? "job" : "device", prop);
                if (v && name)
                        json_object_object_add(values, name, v);
                else
                        json_object_put(v);
                (void)sd_bus_message_exit_container(m);
        }
        Change c = {.object = g_steal_pointer(&object), .values = values, .at_us = stamp};
        g_array_append_val(b->changes, c);
        return 0;
}

/* The object an event is about, from its kind and data. */
static char *object_of_event(const char *kind, json_object *data) {
        json_object *v;

        if (g_str_equal(kind, "job") && json_object_object_get_ex(data, "id", &v))
                return g_strdup_printf("job:%" G_GUINT64_FORMAT, json_object_get_uint64(v));
        if (g_str_equal(kind, "device") && json_object_object_get_ex(data, "port", &v))
                return g_strconcat("device:", json_object_get_string(v), NULL);
        return NULL;
}

static void on_event(Bench *b, Client *c, uint64_t id, const char *kind, const char *data, uint64_t stamp) {
        Seen s = {id, stamp};

        if (g_str_equal(kind, "snapshot")) {
                __atomic_store_n(&c->snapshot, true, __ATOMIC_RELEASE);
                return;
        }
        g_array_append_val(c->seen, s);
        if (g_hash_table_contains(b->events, &id))
                return;
        Event *e = g_new0(Event, 1);
        e->id = id;
        e->first_us = stamp;
        e->data = json_tokener_parse(data);
        e->object = e->data ? object_of_event(kind, e->data) : NULL;
        g_hash_table_insert(b->events, &e->id, e);
}

/* Splits what came into events: "id:", "event:" and "data:" lines up to a blank line. */
static void client_parse(Bench *b, Client *c, uint64_t stamp) {
        char *p = c->buf->str, *end;
        g_autofree char *kind = NULL, *data = NULL;
        uint64_t id = 0;
        size_t used = 0;

        while ((end = strstr(p, "\n\n"))) {
                *end = '\0';
                g_auto(GStrv) lines = g_strsplit(p, "\n", -1);
                for (char **l = lines; *l; l++) {
                        if (g_str_has_prefix(*l, "id: "))
                                id = g_ascii_strtoull(*l + 4, NULL, 10);
                        else if (g_str_has_prefix(*l, "event: "))
                                g_free(kind), kind = g_strdup(*l + 7);
                        else if (g_str_has_prefix(*l, "data: "))
                                g_free(data), data = g_strdup(*l + 6);
                }
                if (kind && data)
                        on_event(b, c, id, kind, data, stamp);
                g_clear_pointer(&kind, g_free);
                g_clear_pointer(&data, g_free);
                p = end + 2;
        }
        used = (size_t)(p - c->buf->str);
        g_string_erase(c->buf, 0, (gssize)used);
}

/* Moves what is whole of the chunked body from c->raw to c->buf, as a browser's EventSource gets it. */
static void client_dechunk(Client *c) {
        for (;;) {
                char *e;
                size_t take, payload;

                if (!c->head_done) {
                        if (!(e = strstr(c->raw->str, "\r\n\r\n")))
                                return;
                        g_string_erase(c->raw, 0, e + 4 - c->raw->str);
                        c->head_done = true;
                }
                if (c->chunk_left == 0) {
                        if (!(e = strstr(c->raw->str, "\r\n")))
                                return;
                        c->chunk_left = g_ascii_strtoull(c->raw->str, NULL, 16) + 2;
                        g_string_erase(c->raw, 0, e + 2 - c->raw->str);
                }
                take = MIN(c->chunk_left, c->raw->len);
                if (take == 0)
                        return;
                payload = c->chunk_left > 2 ? MIN(take, c->chunk_left - 2) : 0;
                g_string_append_len(c->buf, c->raw->str, (gssize)payload);
                g_string_erase(c->raw, 0, (gssize)take);
                c->chunk_left -= take;
        }
}

static void client_read(Bench *b, Client *c) {
        char buf[65536];
        ssize_t n;

        while ((n = read(c->fd, buf, sizeof(buf))) > 0) {
                uint64_t stamp = now_us();
                g_string_append_len(c->raw, buf, n);
                client_dechunk(c);
                client_parse(b, c, stamp);
        }
        if (n == 0)
                c->closed = true;
}

static int client_connect(guint16 port) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
        /* HTTP/1.1 as a browser asks: the stream comes in chunks */
        static const char req[] =
                "GET /api/v1/events HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n";
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1))
                g_error("Failed to open an event stream: %s", g_strerror(errno));
        (void)fcntl(fd, F_SETFL, O_NONBLOCK);
        return fd;
}

/* The bus, on a thread of its own so that a change is stamped as it comes, until stop_fd is written. */
static void *watch_bus(void *userdata) {
        Bench *b = userdata;

        for (;;) {
                uint64_t timeout_us = UINT64_MAX;
                int r;

                while ((r = sd_bus_process(b->bus, NULL)) > 0)
                        ;
                if (r < 0)
                        g_error("sd_bus_process: %s", g_strerror(-r));
                struct pollfd p[2] = {
                        {.fd = sd_bus_get_fd(b->bus), .events = (short)sd_bus_get_events(b->bus)},
                        {.fd = b->stop_fd, .events = POLLIN},
                };
                (void)sd_bus_get_timeout(b->bus, &timeout_us);
                if (poll(p, 2, timeout_us == UINT64_MAX ? -1 : 10) < 0 && errno != EINTR)
                        g_error("poll: %s", g_strerror(errno));
                if (p[1].revents)
                        break;
        }
        return NULL;
}

/* Every client in one loop until stop_fd is written; each read is stamped as it returns. */
static void *watch_clients(void *userdata) {
        Bench *b = userdata;
        struct pollfd *p = g_new0(struct pollfd, b->n_clients + 1);

        for (;;) {
                p[0] = (struct pollfd){.fd = b->stop_fd, .events = POLLIN};
                for (unsigned i = 0; i < b->n_clients; i++)
                        p[i + 1] = (struct pollfd){.fd = b->clients[i].closed ? -1 : b->clients[i].fd,
                                                   .events = POLLIN};
                if (poll(p, b->n_clients + 1, -1) < 0 && errno != EINTR)
                        g_error("poll: %s", g_strerror(errno));
                for (unsigned i = 0; i < b->n_clients; i++)
                        if (p[i + 1].revents)
                                client_read(b, &b->clients[i]);
                if (p[0].revents)
                        break;
        }
        g_free(p);
        return NULL;
}

/* Every value of the change is in the event's data. */
static bool carries(const Change *c, const Event *e) {
        if (!e->object || !g_str_equal(c->object, e->object))
                return false;
        json_object_object_foreach(c->values, k, v) {
                json_object *w;
                if (!json_object_object_get_ex(e->data, k, &w))
                        return false;
                if (json_object_is_type(v, json_type_double) || json_object_is_type(w, json_type_double)) {
                        if (ABS(json_object_get_double(v) - json_object_get_double(w)) > 1e-9)
                                return false;
                } else if (!json_object_equal(v, w))
                        return false;
        }
        return true;
}

static int compare_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return (x > y) - (x < y);
}

static int compare_event(const void *a, const void *b) {
        return compare_u64(&(*(Event *const *)a)->id, &(*(Event *const *)b)->id);
}

/* Each change, in order per object, to the first event of that object after the last one matched that
 * carries its values: dfusd-web sends one event per change, so an event carries at most one change.
 * Events that came well before the change (the object's first event, from InterfacesAdded) are not
 * candidates; a hair before is, as the stream can beat the monitor's own copy of the signal. */
static void match(Bench *b) {
        g_autoptr(GHashTable) next = g_hash_table_new(g_str_hash, g_str_equal); /* object -> index+1 */
        GList *list = g_hash_table_get_values(b->events);
        guint n = g_list_length(list);
        Event **sorted = g_new(Event *, n);
        unsigned i = 0;

        for (GList *l = list; l; l = l->next)
                sorted[i++] = l->data;
        g_list_free(list);
        qsort(sorted, n, sizeof(*sorted), compare_event);
        for (guint k = 0; k < b->changes->len; k++) {
                Change *c = &g_array_index(b->changes, Change, k);
                guint from = GPOINTER_TO_UINT(g_hash_table_lookup(next, c->object));
                if (json_object_object_length(c->values) == 0) /* nothing dfusd-web shows changed */
                        continue;
                for (guint j = from; j < n; j++)
                        if (sorted[j]->first_us + MATCH_SLACK_US >= c->at_us && carries(c, sorted[j])) {
                                c->event_id = sorted[j]->id;
                                g_hash_table_insert(next, c->object, GUINT_TO_POINTER(j + 1));
                                break;
                        }
        }
        g_free(sorted);
}

static void bench_done(Bench *b) {
        for (unsigned i = 0; i < b->n_clients; i++) {
                close(b->clients[i].fd);
                g_string_free(b->clients[i].raw, TRUE);
                g_string_free(b->clients[i].buf, TRUE);
                g_array_unref(b->clients[i].seen);
        }
        g_free(b->clients);
        for (guint k = 0; k < b->changes->len; k++) {
                g_free(g_array_index(b->changes, Change, k).object);
                json_object_put(g_array_index(b->changes, Change, k).values);
        }
        g_array_unref(b->changes);
        g_hash_table_unref(b->events);
        b->bus = sd_bus_flush_close_unref(b->bus);
        close(b->stop_fd);
}

static void event_free(gpointer p) {
        Event *e = p;
        g_free(e->object);
        json_object_put(e->data);
        g_free(e);
}

static void open_monitor(Bench *b, const char *address) {
        int r = sd_bus_new(&b->bus);

        if (r >= 0)
                r = sd_bus_set_address(b->bus, address);
        if (r >= 0)
                r = sd_bus_set_bus_client(b->bus, 1);
        if (r >= 0)
                r = sd_bus_start(b->bus);
        if (r >= 0)
                r = sd_bus_add_match(
                        b->bus, NULL,
                        "type='signal',sender='" DFUSD_BUS_NAME "',interface='org.freedesktop.DBus."
                        "Properties',member='PropertiesChanged',path_namespace='" DFUSD_PATH "'",
                        on_properties_changed, b);
        if (r < 0)
                g_error("Failed to watch the bus: %s", g_strerror(-r));
}

static const char *web_config(void) {
        return "[Web]\nMaxConnections=1024\nMaxConnectionsPerIP=1024\nMaxEventClients=1024\n";
}

int main(int argc, char **argv) {
        g_autofree char *time_scale = NULL;
        gint boards = 32, clients = 100;
        gint64 size = 64 * 1024;
        const GOptionEntry entries[] = {
                {"boards", 0, 0, G_OPTION_ARG_INT, &boards, "Boards flashing at once (default 32)", "N"},
                {"clients", 0, 0, G_OPTION_ARG_INT, &clients, "Event stream clients (default 100)", "N"},
                {"size", 0, 0, G_OPTION_ARG_INT64, &size, "Image size per board (default 65536)", "BYTES"},
                {"time-scale", 0, 0, G_OPTION_ARG_STRING, &time_scale,
                 "Simulator time scale (default 1: datasheet timing)", "X"},
                {},
        };
        g_autoptr(GOptionContext) ctx = g_option_context_new("- dfusd-web event stream benchmark");
        g_autoptr(GError) error = NULL;
        const char *parts[] = {"f405", NULL};
        Bench b = {0};
        Integ t;
        GSubprocess *web = NULL;
        pthread_t bus_thread, clients_thread;
        bool realtime;
        pid_t web_pid;
        uint64_t ticks0, ticks1, start, end;
        unsigned long rss;

        g_option_context_add_main_entries(ctx, entries, NULL);
        if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
                fprintf(stderr, "%s\n", error->message);
                return 2;
        }
        if (boards < 1 || clients < 1 || clients > 1000 || size < 1) {
                fprintf(stderr, "--boards and --size must be positive, --clients 1 to 1000\n");
                return 2;
        }
        integ_setup(&t, NULL);
        g_autofree uint8_t *img = integ_pattern((size_t)size, 1);
        g_autofree char *file =
                integ_write_ihex(&t, "app.hex", &(IntegSegment){FLASH_BASE, img, (size_t)size}, 1);
        integ_start(
                &t,
                &(IntegRun){.boards = (unsigned)boards, .parts = parts, .time_scale = time_scale ?: "1"});
        integ_wait_devices(&t, (unsigned)boards, 60);
        guint16 port = web_spawn(&t, web_config(), &web);
        web_pid = (pid_t)g_ascii_strtoll(g_subprocess_get_identifier(web), NULL, 10);

        b.changes = g_array_new(FALSE, FALSE, sizeof(Change));
        b.events = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, event_free);
        b.n_clients = (unsigned)clients;
        b.clients = g_new0(Client, b.n_clients);
        b.stop_fd = eventfd(0, EFD_CLOEXEC);
        open_monitor(&b, t.bus_address);
        for (unsigned i = 0; i < b.n_clients; i++) {
                b.clients[i].fd = client_connect(port);
                b.clients[i].buf = g_string_new(NULL);
                b.clients[i].raw = g_string_new(NULL);
                b.clients[i].seen = g_array_new(FALSE, FALSE, sizeof(Seen));
        }
        if (pthread_create(&bus_thread, NULL, watch_bus, &b) != 0 ||
            pthread_create(&clients_thread, NULL, watch_clients, &b) != 0)
                g_error("pthread_create failed");
        /* On a loaded machine the bus watcher, waiting for the CPU behind the one reading 100
         * sockets, stamps changes late: it runs ahead of everything else when allowed (it only
         * stamps and copies). The socket reader must not: it would preempt dfusd-web at each write. */
        realtime = pthread_setschedparam(bus_thread, SCHED_FIFO,
                                         &(struct sched_param){.sched_priority = 10}) == 0;
        /* every client has its snapshot before the first change */
        for (unsigned i = 0; i < b.n_clients; i++)
                while (!__atomic_load_n(&b.clients[i].snapshot, __ATOMIC_ACQUIRE))
                        g_usleep(1000);

        g_autoptr(GVariant) devices = integ_get(&t, DFUSD_PATH, DFUSD_MANAGER, "Devices", NULL);
        char **jobs = g_new0(char *, (size_t)boards + 1);
        ticks0 = cpu_ticks(web_pid);
        start = now_us();
        for (unsigned i = 0; i < (unsigned)boards; i++) {
                g_autoptr(GError) e = NULL;
                g_autofree char *dev_port = NULL;
                const char *dev;
                g_variant_get_child(devices, i, "&o", &dev);
                dev_port = integ_get_string(&t, dev, DFUSD_DEVICE, "PortPath");
                jobs[i] = integ_submit(&t, (const char *[]){file, NULL},
                                       integ_options("port", g_variant_new_string(dev_port), NULL), &e);
                if (!jobs[i])
                        g_error("Submit for %s: %s", dev_port, e->message);
        }
        unsigned failed = 0;
        for (unsigned i = 0; i < (unsigned)boards; i++) {
                g_autofree char *state = integ_wait_job(&t, jobs[i], 300);
                failed += !g_str_equal(state, "done");
        }
        end = now_us();
        /* the last events are on their way: give the streams a moment past the last change */
        g_usleep(500 * 1000);
        ticks1 = cpu_ticks(web_pid);
        rss = peak_rss_kib(web_pid);
        if (eventfd_write(b.stop_fd, 1) < 0 || pthread_join(bus_thread, NULL) != 0 ||
            pthread_join(clients_thread, NULL) != 0)
                g_error("Failed to stop the watcher");

        match(&b);
        g_autoptr(GArray) lat = g_array_new(FALSE, FALSE, sizeof(uint64_t));
        unsigned unmatched = 0, missed = 0, early = 0;
        for (unsigned i = 0; i < b.n_clients; i++) {
                g_autoptr(GHashTable) at = g_hash_table_new(g_int64_hash, g_int64_equal);
                Client *c = &b.clients[i];
                for (guint k = 0; k < c->seen->len; k++)
                        g_hash_table_insert(at, &g_array_index(c->seen, Seen, k).id,
                                            &g_array_index(c->seen, Seen, k).at_us);
                for (guint k = 0; k < b.changes->len; k++) {
                        Change *ch = &g_array_index(b.changes, Change, k);
                        uint64_t *t_us;
                        if (json_object_object_length(ch->values) == 0)
                                continue;
                        if (!ch->event_id) {
                                if (i == 0) {
                                        unmatched++;
                                        fprintf(stderr, "sse-bench: no event carried %s %s\n", ch->object,
                                                json_object_to_json_string(ch->values));
                                }
                                continue;
                        }
                        t_us = g_hash_table_lookup(at, &ch->event_id);
                        if (!t_us) {
                                missed++;
                                continue;
                        }
                        /* the stream can beat the monitor's own copy of the signal by a hair */
                        uint64_t d = *t_us >= ch->at_us ? *t_us - ch->at_us : (early++, 0);
                        g_array_append_val(lat, d);
                }
        }
        g_array_sort(lat, compare_u64);

        long hz = sysconf(_SC_CLK_TCK);
        double cpu_s = (double)(ticks1 - ticks0) / (double)hz, wall_s = (double)(end - start) / 1e6;
        printf("\ndfusd-web event stream benchmark: %d boards (f405, %lld-byte image, time scale %s), %d "
               "clients on /api/v1/events\n\n",
               boards, (long long)size, time_scale ?: "1", clients);
        printf("%-8s %-8s %9s %9s %9s %9s %9s %8s %9s %10s %9s %7s\n", "boards", "clients", "changes",
               "pairs", "p50 ms", "p99 ms", "max ms", "missed", "no event", "CPU s", "CPU %", "peak RSS");
        if (lat->len == 0)
                printf("no (change, client) pairs were matched\n");
        else
                printf("%-8d %-8d %9u %9u %9.2f %9.2f %9.2f %8u %9u %10.2f %8.1f%% %4.1f MiB\n", boards,
                       clients, b.changes->len, lat->len, g_array_index(lat, uint64_t, lat->len / 2) / 1e3,
                       g_array_index(lat, uint64_t, lat->len * 99 / 100) / 1e3,
                       g_array_index(lat, uint64_t, lat->len - 1) / 1e3, missed, unmatched, cpu_s,
                       100.0 * cpu_s / wall_s, rss / 1024.0);
        printf("\nflash window %.2f s, %u failed jobs, %u events, %u pairs where the stream came first\n",
               wall_s, failed, g_hash_table_size(b.events), early);
        printf("bus watcher %s\n",
               realtime ? "SCHED_FIFO" : "at normal priority (SCHED_FIFO not permitted)");
        printf("aims: p99 < 50 ms, missed 0, no event 0\n");

        bench_done(&b);
        g_subprocess_send_signal(web, SIGTERM);
        g_subprocess_wait(web, NULL, NULL);
        g_object_unref(web);
        integ_stop(&t);
        integ_teardown(&t, NULL);
        g_strfreev(jobs);
        return 0;
}
