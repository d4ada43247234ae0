/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifdef DFUSCTL_HAVE_BUS

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-event.h>

#include "exit-codes.h"
#include "progress.h"
#include "redraw.h"

struct Follow {
        sd_bus *bus;
        sd_event *event;
        JobView *jobs;
        size_t n_jobs;
        sd_bus_slot *slots[4];
        Progress *progress;
        Redraw redraw;
        unsigned interrupts;
        int status;
};

static JobView *find_job(Follow *f, const char *path) {
        for (size_t i = 0; path && i < f->n_jobs; i++)
                if (streq(f->jobs[i].path, path))
                        return f->jobs + i;
        return NULL;
}

static bool all_completed(const Follow *f) {
        for (size_t i = 0; i < f->n_jobs; i++)
                if (!f->jobs[i].completed)
                        return false;
        return true;
}

static void set_completed(JobView *j, bool success, const char *message) {
        j->completed = true;
        j->success = success;
        if (message && message[0]) {
                free(j->message);
                j->message = strdup(message);
        }
}

/* A final State counts as completion too: the Completed signal may have gone out before we knew
 * the job's path, or the job may have ended before its first properties were read. */
static void check_state(JobView *j) {
        const char *state = json_get_str(j->props, "State", NULL);

        if (!j->completed && job_state_is_final(state))
                set_completed(j, streq(state, "done"), json_get_str(j->props, "Error", NULL));
}

static void draw(void *userdata) {
        Follow *f = userdata;

        progress_update(f->progress, f->jobs, f->n_jobs);
}

static void after_event(Follow *f) {
        if (f->event && all_completed(f)) {
                /* progress_finish() draws the end state. */
                (void)sd_event_exit(f->event, 0);
                return;
        }
        if (!f->progress)
                return;
        /* On a pipe every phase change is printed as it comes; only the terminal is throttled. */
        redraw_soon(&f->redraw, f->progress->tty ? f->event : NULL);
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Follow *f = userdata;
        JobView *j = find_job(f, sd_bus_message_get_path(m));
        _cleanup_(json_object_putp) json_object *changed = NULL;
        const char *iface;

        if (!j || sd_bus_message_read(m, "s", &iface) < 0 || !streq(iface, DFUSD_IFACE_JOB))
                return 0;
        if (bus_message_read_json(m, &changed) < 0)
                return 0;
        /* Signals queued while the job's properties were read are older than what was read: once
         * an end state is known, nothing may take it back. */
        if (j->completed && job_state_is_final(json_get_str(j->props, "State", NULL)))
                return 0;
        json_merge(j->props, changed);
        check_state(j);
        after_event(f);
        return 0;
}

static int on_completed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Follow *f = userdata;
        JobView *j = find_job(f, sd_bus_message_get_path(m));
        const char *message = NULL;
        int success = 0;

        if (!j || sd_bus_message_read(m, "bs", &success, &message) < 0)
                return 0;
        set_completed(j, success, message);
        /* The final figures come with the last PropertiesChanged; only fill in a missing end state. */
        if (!job_state_is_final(json_get_str(j->props, "State", NULL)))
                json_object_object_add(j->props, "State",
                                       json_object_new_string(success ? "done" : "failed"));
        after_event(f);
        return 0;
}

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Follow *f = userdata;
        const char *path, *result;
        uint32_t id;
        JobView *j;

        if (sd_bus_message_read(m, "uos", &id, &path, &result) < 0)
                return 0;
        j = find_job(f, path);
        if (!j || j->completed)
                return 0;
        set_completed(j, streq(result, "done"), result);
        after_event(f);
        return 0;
}

static int on_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Follow *f = userdata;
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 || new_owner[0])
                return 0;
        fprintf(stderr, "dfusctl: dfusd left the bus before the jobs completed.\n");
        f->status = EXIT_NO_DAEMON;
        if (f->event)
                (void)sd_event_exit(f->event, 0);
        return 0;
}

int follow_new(sd_bus *bus, Follow **ret) {
        static const char *const matches[] = {
                "type='signal',sender='" DFUSD_BUS_NAME "',interface='org.freedesktop.DBus.Properties',"
                "member='PropertiesChanged',path_namespace='" DFUSD_PATH "/job'",
                "type='signal',sender='" DFUSD_BUS_NAME "',interface='" DFUSD_IFACE_JOB
                "',member='Completed'",
                "type='signal',sender='" DFUSD_BUS_NAME "',interface='" DFUSD_IFACE_MGR
                "',member='JobRemoved'",
                "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
                "member='NameOwnerChanged',arg0='" DFUSD_BUS_NAME "'",
        };
        static const sd_bus_message_handler_t handlers[] = {on_properties_changed, on_completed,
                                                            on_job_removed, on_owner_changed};
        _cleanup_(follow_freep) Follow *f = calloc(1, sizeof(Follow));
        int r;

        if (!f)
                return -ENOMEM;
        f->bus = sd_bus_ref(bus);
        f->redraw = (Redraw){.draw = draw, .userdata = f};
        for (size_t i = 0; i < ELEMENTSOF(matches); i++) {
                r = sd_bus_add_match(bus, &f->slots[i], matches[i], handlers[i], f);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(f);
        return 0;
}

Follow *follow_free(Follow *f) {
        if (!f)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(f->slots); i++)
                sd_bus_slot_unref(f->slots[i]);
        for (size_t i = 0; i < f->n_jobs; i++) {
                free(f->jobs[i].path);
                json_object_put(f->jobs[i].props);
                free(f->jobs[i].message);
                free(f->jobs[i].printed_state);
        }
        free(f->jobs);
        if (f->event) {
                (void)sd_bus_detach_event(f->bus);
                redraw_done(&f->redraw);
                sd_event_unref(f->event);
        }
        sd_bus_unref(f->bus);
        return mfree(f);
}

int follow_add_job(Follow *f, const char *path) {
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        JobView *jobs, *j;
        int r;

        jobs = reallocarray(f->jobs, f->n_jobs + 1, sizeof(JobView));
        if (!jobs)
                return -ENOMEM;
        f->jobs = jobs;
        j = f->jobs + f->n_jobs;
        *j = (JobView){.path = strdup(path)};
        if (!j->path)
                return -ENOMEM;
        f->n_jobs++;

        r = bus_get_all(f->bus, path, DFUSD_IFACE_JOB, &error, &j->props);
        if (r < 0 || !json_object_is_type(j->props, json_type_object)) {
                /* Already gone: its Completed signal is queued behind the reply we just read. */
                json_object_put(j->props);
                j->props = json_object_new_object();
        }
        check_state(j);
        return 0;
}

JobView *follow_jobs(Follow *f, size_t *n) {
        *n = f->n_jobs;
        return f->jobs;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Follow *f = userdata;

        if (f->interrupts++ > 0) {
                f->status = EXIT_CANCELLED;
                return sd_event_exit(f->event, 0);
        }
        fprintf(stderr, "dfusctl: cancelling (press Ctrl-C again to stop waiting)...\n");
        for (size_t i = 0; i < f->n_jobs; i++)
                if (!f->jobs[i].completed)
                        (void)sd_bus_call_method_async(f->bus, NULL, DFUSD_BUS_NAME, f->jobs[i].path,
                                                       DFUSD_IFACE_JOB, "Cancel", NULL, NULL, NULL);
        return 0;
}

int follow_run(Follow *f, Progress *p) {
        sigset_t mask;
        int r;

        f->progress = p;
        if (p)
                progress_update(p, f->jobs, f->n_jobs);
        if (all_completed(f))
                return 0;

        r = sd_event_new(&f->event);
        if (r < 0)
                return r;
        r = sd_bus_attach_event(f->bus, f->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return negative_errno();
        r = sd_event_add_signal(f->event, NULL, SIGINT, on_signal, f);
        if (r < 0)
                return r;
        r = sd_event_add_signal(f->event, NULL, SIGTERM, on_signal, f);
        if (r < 0)
                return r;
        r = sd_event_loop(f->event);
        if (r < 0)
                return r;
        return f->status;
}

#endif
