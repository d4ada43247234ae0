/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifdef DFUSCTL_HAVE_BUS

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-event.h>

#include "bus.h"
#include "exit-codes.h"
#include "output.h"
#include "progress.h"
#include "redraw.h"
#include "verbs-bus.h"

/*
 * A live view for a station screen. The state is the ObjectManager's tree (path -> interface ->
 * properties), read once and kept current from InterfacesAdded/Removed and PropertiesChanged; on a
 * terminal the whole view is redrawn in place, otherwise every event is one line (JSON with --json).
 */

typedef struct Watch {
        sd_bus *bus;
        sd_event *event;
        const DfusctlContext *ctx;
        json_object *objects;
        Progress progress;
        Redraw redraw;
        int status;
} Watch;

void verb_watch_help(void) {
        printf("dfusctl watch\n\n"
               "Follow every board and job live until interrupted. On a terminal the view is redrawn in\n"
               "place; otherwise each event is printed on its own line.\n\n"
               "With --json: JSON lines, one object per event, each with \"event\" and \"path\":\n"
               "  {\"event\": \"snapshot\", \"objects\": {PATH: {INTERFACE: {PROPERTY: VALUE}}}}\n"
               "  {\"event\": \"added\", \"path\", \"interfaces\": {INTERFACE: {PROPERTY: VALUE}}}\n"
               "  {\"event\": \"removed\", \"path\", \"interfaces\": [INTERFACE]}\n"
               "  {\"event\": \"changed\", \"path\", \"interface\", \"properties\": {PROPERTY: VALUE}}\n"
               "  {\"event\": \"completed\", \"path\", \"success\", \"message\"}\n"
               "  {\"event\": \"daemon\", \"running\": BOOL}\n");
}

static void print_json_line(json_object *o) {
        fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
              stdout);
        fputc('\n', stdout);
        fflush(stdout);
}

/* {"event": EVENT, "path": PATH, KEY: VALUE}; path and key are optional. */
static json_object *event_new(const char *event, const char *path, const char *key, json_object *value) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "event", json_object_new_string(event));
        if (path)
                json_object_object_add(o, "path", json_object_new_string(path));
        if (key)
                json_object_object_add(o, key, json_object_get(value));
        return o;
}

static void emit_json(const char *event, const char *path, const char *key, json_object *value) {
        _cleanup_(json_object_putp) json_object *o = event_new(event, path, key, value);

        print_json_line(o);
}

static void line(Watch *w, const char *fmt, ...) _printf_(2, 3);
static void line(Watch *w, const char *fmt, ...) {
        char ts[16];
        time_t t = time(NULL);
        struct tm tm;
        va_list ap;

        strftime(ts, sizeof ts, "%H:%M:%S", localtime_r(&t, &tm));
        printf("%s ", ts);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
        fflush(stdout);
}

static void describe(Watch *w, const char *what, const char *path, json_object *ifaces) {
        json_object *p;

        if (json_object_object_get_ex(ifaces, DFUSD_IFACE_DEVICE, &p))
                line(w, "board %s %s: part %s, serial %s%s, %s, protection %s",
                     json_get_str(p, "PortPath", "?"), what,
                     json_get_str(p, "Part", "")[0] ? json_get_str(p, "Part", "") : "unknown",
                     json_get_str(p, "Serial", "-"),
                     json_get_bool(p, "SerialDuplicated") ? " (duplicate)" : "",
                     json_get_str(p, "State", "?"), json_get_str(p, "Protection", "unknown"));
        else if (json_object_object_get_ex(ifaces, DFUSD_IFACE_JOB, &p))
                line(w, "job %s %s: %s, %s", object_path_id(path), what, job_label(p),
                     json_get_str(p, "State", "?"));
        else if (json_object_object_get_ex(ifaces, DFUSD_IFACE_RULE, &p))
                line(w, "rule %s %s: %s", object_path_id(path), what, json_get_str(p, "Match", "?"));
}

/* The screen, composed off-screen and then written over the old one line by line: clearing the
 * whole screen first would flicker on every update. */
static void compose(Watch *w, FILE *f) {
        static const char *const headers[] = {"PORT",       "STATION", "PART", "SERIAL",
                                              "PROTECTION", "STATE",   "JOB"};
        _cleanup_(json_object_putp) json_object *devices =
                managed_objects_filter(w->objects, DFUSD_IFACE_DEVICE);
        _cleanup_(json_object_putp) json_object *jobs = managed_objects_filter(w->objects, DFUSD_IFACE_JOB);
        _cleanup_(table_freep) Table *t = table_new(ELEMENTSOF(headers), headers);
        char ts[32], buf[256];

        format_timestamp(ts, sizeof ts, (uint64_t)time(NULL) * 1000000);
        fprintf(f, "%s%s%s  %s: %zu boards, %zu jobs\n\n",
                output_color_on(w->progress.color, OUTPUT_COLOR_BOLD), "dfusd",
                output_color_off(w->progress.color), ts, json_object_array_length(devices),
                json_object_array_length(jobs));
        for (size_t i = 0; t && i < json_object_array_length(devices); i++) {
                json_object *d = json_object_array_get_idx(devices, i);

                snprintf(buf, sizeof buf, "%s%s", json_get_str(d, "Serial", "-"),
                         json_get_bool(d, "SerialDuplicated") ? " (duplicate)" : "");
                (void)table_add_row(
                        t,
                        (const char *const[]){json_get_str(d, "PortPath", "?"),
                                              json_get_str(d, "Station", "-"), json_get_str(d, "Part", "-"),
                                              buf, json_get_str(d, "Protection", "unknown"),
                                              json_get_str(d, "State", "?"),
                                              object_path_id(json_get_str(d, "CurrentJob", "/"))},
                        -1, OUTPUT_COLOR_NONE);
        }
        if (t)
                (void)table_print(t, f, true, w->progress.color);
        fprintf(f, "\n");
        for (size_t i = 0; i < json_object_array_length(jobs); i++) {
                json_object *j = json_object_array_get_idx(jobs, i);

                progress_format_line(&w->progress, j, buf, sizeof buf);
                fprintf(f, "job %-4s %s\n", object_path_id(json_get_str(j, "path", "")), buf);
        }
}

static void draw(void *userdata) {
        Watch *w = userdata;
        _cleanup_free_ char *screen = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&screen, &size);

        if (!f)
                return;
        compose(w, f);
        if (fclose(f) != 0 || !screen)
                return;
        /* Home, each line cleared to its end, then whatever the old screen had below. */
        fputs("\033[H", stdout);
        for (char *line = screen, *nl; *line; line = nl + 1) {
                nl = strchrnul(line, '\n');
                fprintf(stdout, "%.*s\033[K\n", (int)(nl - line), line);
                if (!*nl)
                        break;
        }
        fputs("\033[J", stdout);
        fflush(stdout);
}

static void after_event(Watch *w) {
        if (!w->ctx->json && w->progress.tty)
                redraw_soon(&w->redraw, w->event);
}

static int on_added(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Watch *w = userdata;
        _cleanup_(json_object_putp) json_object *ifaces = NULL;
        json_object *known;
        const char *path;

        if (sd_bus_message_read(m, "o", &path) < 0 || bus_message_read_json(m, &ifaces) < 0)
                return 0;
        if (!json_object_object_get_ex(w->objects, path, &known)) {
                known = json_object_new_object();
                json_object_object_add(w->objects, path, known);
        }
        json_merge(known, ifaces);
        if (w->ctx->json)
                emit_json("added", path, "interfaces", ifaces);
        else if (!w->progress.tty)
                describe(w, "added", path, ifaces);
        after_event(w);
        return 0;
}

static int on_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Watch *w = userdata;
        _cleanup_(json_object_putp) json_object *names = NULL;
        json_object *known = NULL;
        const char *path;

        if (sd_bus_message_read(m, "o", &path) < 0 || bus_message_read_json(m, &names) < 0)
                return 0;
        (void)json_object_object_get_ex(w->objects, path, &known);
        if (w->ctx->json)
                emit_json("removed", path, "interfaces", names);
        else if (!w->progress.tty && known)
                describe(w, "removed", path, known);
        for (size_t i = 0; known && i < json_object_array_length(names); i++)
                json_object_object_del(known, json_object_get_string(json_object_array_get_idx(names, i)));
        if (known && json_object_object_length(known) == 0)
                json_object_object_del(w->objects, path);
        after_event(w);
        return 0;
}

static void describe_change(Watch *w, const char *path, const char *iface, json_object *props,
                            const char *old_state) {
        const char *state = json_get_str(props, "State", NULL);

        /* PropertiesChanged carries State with every progress update: print transitions only. */
        if (!state || (old_state && streq(old_state, state)))
                return;
        if (streq(iface, DFUSD_IFACE_DEVICE))
                line(w, "board %s: %s", json_get_str(props, "PortPath", "?"), state);
        else if (streq(iface, DFUSD_IFACE_JOB) && !job_state_is_final(state))
                line(w, "job %s %s: %s", object_path_id(path), job_label(props), state);
}

static int on_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Watch *w = userdata;
        _cleanup_free_ char *old_state = NULL;
        _cleanup_(json_object_putp) json_object *changed = NULL;
        const char *path = sd_bus_message_get_path(m), *iface;
        json_object *known, *props;

        if (sd_bus_message_read(m, "s", &iface) < 0 || bus_message_read_json(m, &changed) < 0)
                return 0;
        if (!json_object_object_get_ex(w->objects, path, &known)) {
                known = json_object_new_object();
                json_object_object_add(w->objects, path, known);
        }
        if (!json_object_object_get_ex(known, iface, &props)) {
                props = json_object_new_object();
                json_object_object_add(known, iface, props);
        }
        old_state = strdup(json_get_str(props, "State", ""));
        json_merge(props, changed);
        if (w->ctx->json) {
                _cleanup_(json_object_putp) json_object *o =
                        event_new("changed", path, "properties", changed);

                json_object_object_add(o, "interface", json_object_new_string(iface));
                print_json_line(o);
        } else if (!w->progress.tty)
                describe_change(w, path, iface, props, old_state);
        after_event(w);
        return 0;
}

static int on_completed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Watch *w = userdata;
        const char *path = sd_bus_message_get_path(m), *message;
        json_object *known = NULL, *props = NULL;
        int success;

        if (sd_bus_message_read(m, "bs", &success, &message) < 0)
                return 0;
        if (json_object_object_get_ex(w->objects, path, &known))
                (void)json_object_object_get_ex(known, DFUSD_IFACE_JOB, &props);
        if (w->ctx->json) {
                _cleanup_(json_object_putp) json_object *o = event_new("completed", path, NULL, NULL);

                json_object_object_add(o, "success", json_object_new_boolean(success));
                json_object_object_add(o, "message", json_object_new_string(message));
                print_json_line(o);
        } else if (!w->progress.tty)
                line(w, "job %s %s: %s%s%s", object_path_id(path), job_label(props),
                     success ? "done" : "failed", streq(message, success ? "done" : "failed") ? "" : ": ",
                     streq(message, success ? "done" : "failed") ? "" : message);
        after_event(w);
        return 0;
}

/* (Re)reads the whole tree: at start, and whenever dfusd comes (back) onto the bus. */
static int load_snapshot(Watch *w, sd_bus_error *error) {
        json_object *objects = NULL;
        int r;

        r = bus_get_managed_objects(w->bus, error, &objects);
        if (r < 0)
                return r;
        json_object_put(w->objects);
        w->objects = objects;
        if (w->ctx->json)
                emit_json("snapshot", NULL, "objects", w->objects);
        else if (!w->progress.tty) {
                json_object_object_foreach(w->objects, path, ifaces) describe(w, "present", path, ifaces);
        }
        after_event(w);
        return 0;
}

static int on_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        Watch *w = userdata;
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0)
                return 0;
        if (w->ctx->json) {
                _cleanup_(json_object_putp) json_object *o = event_new("daemon", NULL, NULL, NULL);

                json_object_object_add(o, "running", json_object_new_boolean(new_owner[0]));
                print_json_line(o);
        } else if (!w->progress.tty)
                line(w, "dfusd %s", new_owner[0] ? "started" : "stopped");
        if (!new_owner[0]) {
                json_object_put(w->objects);
                w->objects = json_object_new_object();
                after_event(w);
                return 0;
        }
        if (load_snapshot(w, &error) < 0)
                line(w, "dfusd: Failed to read its objects: %s", error.message ?: "unknown error");
        return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Watch *w = userdata;

        return sd_event_exit(w->event, 0);
}

static int watch_subscribe(Watch *w) {
        static const char *const matches[] = {
                "type='signal',sender='" DFUSD_BUS_NAME "',path='" DFUSD_PATH "',"
                "interface='org.freedesktop.DBus.ObjectManager',member='InterfacesAdded'",
                "type='signal',sender='" DFUSD_BUS_NAME "',path='" DFUSD_PATH "',"
                "interface='org.freedesktop.DBus.ObjectManager',member='InterfacesRemoved'",
                "type='signal',sender='" DFUSD_BUS_NAME "',interface='org.freedesktop.DBus.Properties',"
                "member='PropertiesChanged',path_namespace='" DFUSD_PATH "'",
                "type='signal',sender='" DFUSD_BUS_NAME "',interface='" DFUSD_IFACE_JOB
                "',member='Completed'",
                "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
                "member='NameOwnerChanged',arg0='" DFUSD_BUS_NAME "'",
        };
        static const sd_bus_message_handler_t handlers[] = {on_added, on_removed, on_changed, on_completed,
                                                            on_owner_changed};
        int r;

        for (size_t i = 0; i < ELEMENTSOF(matches); i++) {
                /* Floating slots: they live as long as the connection. */
                r = sd_bus_add_match(w->bus, NULL, matches[i], handlers[i], w);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int watch_loop(Watch *w) {
        sigset_t mask;
        int r;

        r = sd_event_new(&w->event);
        if (r >= 0)
                r = sd_bus_attach_event(w->bus, w->event, SD_EVENT_PRIORITY_NORMAL);
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        if (r >= 0 && sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                r = negative_errno();
        if (r >= 0)
                r = sd_event_add_signal(w->event, NULL, SIGINT, on_signal, w);
        if (r >= 0)
                r = sd_event_add_signal(w->event, NULL, SIGTERM, on_signal, w);
        if (r >= 0)
                r = sd_event_loop(w->event);
        return r;
}

int verb_watch(int argc, char *argv[], const DfusctlContext *ctx) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        Watch w = {.ctx = ctx, .redraw = {.draw = draw, .userdata = &w}};
        int r;

        if (argc > 1) {
                fprintf(stderr, "dfusctl watch: unexpected argument \"%s\".\n", argv[1]);
                return EXIT_USAGE;
        }
        progress_init(&w.progress, stdout);
        r = bus_connect(ctx, &bus);
        if (r != EXIT_ACCEPTED)
                return r;
        w.bus = bus;
        /* Subscribe first, then read: a change between the two is seen twice, never lost. */
        r = watch_subscribe(&w);
        if (r < 0)
                return bus_log_error(ctx, "subscribe to signals", NULL, r);
        r = load_snapshot(&w, &error);
        if (r < 0)
                return bus_log_error(ctx, "read the boards and jobs", &error, r);
        r = watch_loop(&w);
        if (w.progress.tty && !ctx->json)
                printf("\n");
        redraw_done(&w.redraw);
        sd_bus_detach_event(bus);
        sd_event_unref(w.event);
        json_object_put(w.objects);
        if (r < 0)
                return bus_log_error(ctx, "watch", NULL, r);
        return EXIT_ACCEPTED;
}

#endif
