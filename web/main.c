/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "bus-json.h"
#include "http.h"
#include "log.h"
#include "repr.h"
#include "sse.h"
#include "web.h"

#ifndef DFUSD_SYSCONF_DIR
#define DFUSD_SYSCONF_DIR "/etc"
#endif

static void help(void) {
        printf("dfusd-web [--user] [--listen ADDR:PORT] [--config FILE]\n\n"
               "The station page, HTTP API and Prometheus metrics of dfusd.\n\n"
               "  -h --help            Show this help\n"
               "     --version         Show the version\n"
               "     --user            Talk to dfusd on the session bus (dfusd --user)\n"
               "     --listen ADDR:PORT  Listen here (default 127.0.0.1:8710; Listen= in [Web])\n"
               "     --config FILE     Read [Web] from FILE (default " DFUSD_SYSCONF_DIR
               "/dfusd/web.conf)\n");
}

typedef struct Args {
        bool user;
        const char *listen, *config;
} Args;

static int parse_argv(int argc, char *argv[], Args *a) {
        enum { ARG_VERSION = 0x100, ARG_USER, ARG_LISTEN, ARG_CONFIG };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                {"user", no_argument, NULL, ARG_USER},
                {"listen", required_argument, NULL, ARG_LISTEN},
                {"config", required_argument, NULL, ARG_CONFIG},
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("dfusd-web %s\n", DFUSD_VERSION);
                        return 0;
                case ARG_USER:
                        a->user = true;
                        break;
                case ARG_LISTEN:
                        a->listen = optarg;
                        break;
                case ARG_CONFIG:
                        a->config = optarg;
                        break;
                default:
                        return -EINVAL;
                }
        if (optind < argc) {
                log_error("dfusd-web takes no arguments; see --help.");
                return -EINVAL;
        }
        return 1;
}

static json_object *snapshot(void *userdata) {
        Web *w = userdata;
        _cleanup_(json_object_putp) json_object *today = metrics_today(&w->metrics);
        return repr_snapshot(&w->config, &w->mirror, today);
}

void web_object_changed(Web *w, const char *kind, const char *path, bool removed) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_free_ char *event = NULL;
        json_object *props = mirror_props(&w->mirror, path);

        if (removed || !props) {
                o = json_object_new_object();
                if (!o)
                        return (void)log_oom();
                json_object_object_add(o, "kind", json_object_new_string(kind));
                json_object_object_add(o, "path", json_object_new_string(path));
                if (streq(kind, "device")) {
                        _cleanup_free_ char *port = NULL;
                        (void)sd_bus_path_decode(path, DFUSD_DEVICE_PATH, &port);
                        json_object_object_add(o, "port", port ? json_object_new_string(port) : NULL);
                } else
                        json_object_object_add(
                                o, "id",
                                json_object_new_int64(repr_path_id(
                                        path, streq(kind, "job") ? DFUSD_JOB_PATH : DFUSD_RULE_PATH)));
                if (asprintf(&event, "%s-removed", kind) < 0)
                        return (void)log_oom();
        } else {
                o = streq(kind, "device") ? repr_device(&w->config, &w->mirror, props)
                    : streq(kind, "job")  ? repr_job(props, false)
                                          : repr_rule(props);
                event = strdup(kind);
        }
        if (!o || !event || sse_broadcast(w->sse, event, o) < 0)
                return (void)log_oom();
        http_kick(w->http);
}

static void on_changed(void *userdata, const char *kind, const char *path, bool removed) {
        web_object_changed(userdata, kind, path, removed);
}

static void on_job_ended(void *userdata, const char *path, json_object *props) {
        Web *w = userdata;
        _cleanup_(json_object_putp) json_object *today = NULL;

        metrics_job_ended(&w->metrics, &w->config, &w->mirror, props);
        today = metrics_today(&w->metrics);
        if (today)
                (void)sse_broadcast(w->sse, "today", today);
}

void web_resynced(Web *w) {
        _cleanup_(json_object_putp) json_object *snap = NULL;
        int r;

        if (w->mirror.dfusd_up) {
                r = metrics_load_today(&w->metrics, w->bus);
                if (r < 0)
                        log_warning_errno(r, "Failed to read today's jobs from dfusd's history: %m");
        }
        snap = snapshot(w);
        if (!snap || sse_broadcast(w->sse, "snapshot", snap) < 0)
                return (void)log_oom();
        http_kick(w->http);
}

static void on_resynced(void *userdata) {
        web_resynced(userdata);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

/* Losing the bus is losing dfusd for good: exit non-zero, and the service manager restarts us. */
static int on_bus_lost(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Web *w = userdata;
        log_error("Lost the connection to the bus.");
        return sd_event_exit(w->event, -ECONNRESET);
}

static void web_done(Web *w) {
        w->http = http_free(w->http);
        w->sse = sse_free(w->sse);
        mirror_done(&w->mirror);
        metrics_done(&w->metrics);
        tokens_free(w->tokens);
        w->bus = sd_bus_flush_close_unref(w->bus);
        w->event = sd_event_unref(w->event);
        web_config_done(&w->config);
}

static int run(int argc, char *argv[]) {
        static const MirrorCallbacks callbacks = {
                .changed = on_changed,
                .job_ended = on_job_ended,
                .resynced = on_resynced,
        };
        _cleanup_(web_done) Web w = {};
        Args a = {};
        sigset_t ss;
        int r;

        r = parse_argv(argc, argv, &a);
        if (r <= 0)
                return r;
        web_config_init(&w.config);
        r = web_config_load(&w.config, a.config ?: DFUSD_SYSCONF_DIR "/dfusd/web.conf", !!a.config);
        if (r < 0)
                return r;
        if (a.listen) {
                free(w.config.listen);
                w.config.listen = strdup(a.listen);
                if (!w.config.listen)
                        return log_oom();
        }
        r = tokens_load(w.config.tokens_file, &w.tokens);
        if (r < 0)
                return r;

        r = sd_event_default(&w.event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate the event loop: %m");
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        /* a browser that goes away mid-write must not kill us */
        signal(SIGPIPE, SIG_IGN);
        if (sd_event_add_signal(w.event, NULL, SIGTERM, on_signal, NULL) < 0 ||
            sd_event_add_signal(w.event, NULL, SIGINT, on_signal, NULL) < 0)
                return log_error_errno(ENOMEM, "Failed to watch signals.");

        w.user_bus = a.user;
        r = a.user ? sd_bus_open_user(&w.bus) : sd_bus_open_system(&w.bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the %s bus: %m",
                                       a.user ? "session" : "system");
        r = sd_bus_attach_event(w.bus, w.event, 0);
        if (r >= 0)
                r = sd_bus_match_signal(w.bus, NULL, "org.freedesktop.DBus.Local", NULL,
                                        "org.freedesktop.DBus.Local", "Disconnected", on_bus_lost, &w);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus: %m");

        r = sse_new(w.event, w.config.max_sse_clients, snapshot, &w, &w.sse);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the event stream: %m");
        r = mirror_start(&w.mirror, w.bus, &callbacks, &w);
        if (r < 0)
                return r;
        r = http_start(&w, &w.http);
        if (r < 0)
                return r;
        (void)sd_notify(false, "READY=1\nSTATUS=Serving the station page.");
        r = sd_event_loop(w.event);
        (void)sd_notify(false, "STOPPING=1");
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        return 0;
}

int main(int argc, char *argv[]) {
        return run(argc, argv) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
