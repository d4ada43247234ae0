/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "context.h"
#include "log.h"

/*
 * The job journal: STATE_DIRECTORY/jobs.jsonl, append-only JSON lines, each fsync'd before the event
 * it records is reported. Events: "submit" (everything needed to run the job again), "start",
 * "leave" (the leave request is about to be sent: the board holds the image), "end" (the outcome,
 * which GetHistory returns). A job with a submit and no end was queued or running when the daemon
 * stopped: it is resumed, unless it got as far as its leave request.
 */

static json_object *record_new(const char *event, uint32_t id) {
        json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        json_object_object_add(o, "event", json_object_new_string(event));
        json_object_object_add(o, "id", json_object_new_uint64(id));
        json_object_object_add(o, "time", json_object_new_uint64(now_realtime_usec()));
        return o;
}

static void add_string(json_object *o, const char *key, const char *v) {
        if (v)
                json_object_object_add(o, key, json_object_new_string(v));
}

int store_open(Context *ctx) {
        _cleanup_free_ char *path = NULL;

        if (mkdir(ctx->config.state_dir, 0750) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Failed to create %s: %m", ctx->config.state_dir);
        if (asprintf(&path, "%s/jobs.jsonl", ctx->config.state_dir) < 0)
                return log_oom();
        ctx->store_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (ctx->store_fd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", path);
        return store_writer_start(ctx);
}

int store_record_submit(Context *ctx, const Job *j, StoreDoneFn done, void *userdata) {
        json_object *o = record_new("submit", j->id), *opts = NULL, *images;
        int r;

        if (!o || job_options_to_json(&j->opts, &opts) < 0 || !(images = json_object_new_array())) {
                json_object_put(o);
                json_object_put(opts);
                return -ENOMEM;
        }
        for (char **h = j->image_hashes; h && *h; h++)
                json_object_array_add(images, json_object_new_string(*h));
        json_object_object_add(o, "owner", json_object_new_uint64(j->owner));
        json_object_object_add(o, "submit-time", json_object_new_uint64(j->submit_usec));
        add_string(o, "target", j->target);
        json_object_object_add(o, "options", opts);
        json_object_object_add(o, "images", images);
        if (j->rule_id)
                json_object_object_add(o, "rule", json_object_new_uint64(j->rule_id));
        r = store_write_async(ctx, o, done, userdata);
        json_object_put(o);
        return r;
}

int store_record_start(Context *ctx, const Job *j) {
        json_object *o = record_new("start", j->id);
        if (!o)
                return -ENOMEM;
        add_string(o, "port", j->port_path);
        add_string(o, "serial", j->serial);
        int r = store_write_async(ctx, o, NULL, NULL);
        json_object_put(o);
        return r;
}

/* Called from the worker thread, which waits: the leave request goes out only once this is on disk. */
int store_record_leave(Context *ctx, const Job *j) {
        json_object *o = record_new("leave", j->id);
        if (!o)
                return -ENOMEM;
        int r = store_write_sync(ctx, o);
        json_object_put(o);
        return r;
}

int store_record_end(Context *ctx, const Job *j, JobState result, uint64_t dropped_segments,
                     StoreDoneFn done, void *userdata) {
        json_object *o = record_new("end", j->id);
        if (!o)
                return -ENOMEM;
        add_string(o, "result", job_state_to_string(result));
        add_string(o, "error", j->error);
        add_string(o, "port", j->port_path);
        add_string(o, "serial", j->serial);
        add_string(o, "station", j->station);
        add_string(o, "target", j->target);
        add_string(o, "image-sha256", j->image_sha256);
        json_object_object_add(o, "submit-time", json_object_new_uint64(j->submit_usec));
        json_object_object_add(o, "start-time", json_object_new_uint64(j->start_usec));
        json_object_object_add(o, "end-time", json_object_new_uint64(j->end_usec));
        json_object_object_add(o, "duration-usec",
                               json_object_new_uint64(j->start_usec && j->end_usec > j->start_usec
                                                              ? j->end_usec - j->start_usec
                                                              : 0));
        json_object_object_add(o, "bytes", json_object_new_uint64(j->stats.bytes_written));
        json_object_object_add(o, "dropped-segments", json_object_new_uint64(dropped_segments));
        json_object_object_add(o, "interrupted", json_object_new_boolean(j->interrupted));
        if (j->rule_id)
                json_object_object_add(o, "rule", json_object_new_uint64(j->rule_id));
        int r = store_write_async(ctx, o, done, userdata);
        json_object_put(o);
        return r;
}

/* Reads the journal line by line; a torn last line (kill -9 mid-write) is skipped. */
typedef int (*RecordFn)(Context *ctx, json_object *o, void *userdata);

static int store_foreach(Context *ctx, RecordFn fn, void *userdata) {
        _cleanup_free_ char *path = NULL, *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t n = 0;
        int r = 0;

        if (asprintf(&path, "%s/jobs.jsonl", ctx->config.state_dir) < 0)
                return -ENOMEM;
        f = fopen(path, "re");
        if (!f)
                return errno == ENOENT ? 0 : -errno;
        while (getline(&line, &n, f) > 0) {
                json_object *o = json_tokener_parse(line);
                if (!o)
                        continue;
                r = fn(ctx, o, userdata);
                json_object_put(o);
                if (r < 0)
                        break;
        }
        return r;
}

static const char *get_str(json_object *o, const char *key) {
        json_object *v;
        return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static uint64_t get_u64(json_object *o, const char *key) {
        json_object *v;
        return json_object_object_get_ex(o, key, &v) ? json_object_get_uint64(v) : 0;
}

/* State of one job while replaying. */
typedef struct Replay {
        uint32_t id;
        json_object *submit;
        bool started, leave, ended;
} Replay;

typedef struct ReplaySet {
        Replay *items;
        size_t n, alloc;
} ReplaySet;

static Replay *replay_find(ReplaySet *s, uint32_t id) {
        /* Ids grow with every submit, so the array is sorted. */
        size_t lo = 0, hi = s->n;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (s->items[mid].id == id)
                        return &s->items[mid];
                if (s->items[mid].id < id)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

static int replay_record(Context *ctx, json_object *o, void *userdata) {
        ReplaySet *s = userdata;
        const char *event = get_str(o, "event");
        uint32_t id = (uint32_t)get_u64(o, "id");
        Replay *rp;

        if (!event || id == 0)
                return 0;
        if (id >= ctx->next_job_id)
                ctx->next_job_id = id + 1;
        if (streq(event, "submit")) {
                if (replay_find(s, id) || (s->n > 0 && s->items[s->n - 1].id > id))
                        return 0;
                if (s->n == s->alloc) {
                        size_t na = MAX(s->alloc * 2, (size_t)64);
                        Replay *ni = realloc(s->items, na * sizeof(Replay));
                        if (!ni)
                                return -ENOMEM;
                        s->items = ni;
                        s->alloc = na;
                }
                s->items[s->n++] = (Replay){.id = id, .submit = json_object_get(o)};
                return 0;
        }
        rp = replay_find(s, id);
        if (!rp)
                return 0;
        if (streq(event, "start"))
                rp->started = true;
        else if (streq(event, "leave"))
                rp->leave = true;
        else if (streq(event, "end"))
                rp->ended = true;
        return 0;
}

static int resume_job(Context *ctx, Replay *rp) {
        DfuError error = DFU_ERROR_INIT;
        json_object *opts, *images;
        Job *j;
        int r;

        r = job_new(ctx, rp->id, &j);
        if (r < 0)
                return r;
        j->owner = (uid_t)get_u64(rp->submit, "owner");
        j->submit_usec = get_u64(rp->submit, "submit-time");
        j->rule_id = (uint32_t)get_u64(rp->submit, "rule");
        j->interrupted = rp->started;
        j->accepted = true;
        if (get_str(rp->submit, "target"))
                j->target = strdup(get_str(rp->submit, "target"));
        if (json_object_object_get_ex(rp->submit, "options", &opts))
                (void)job_options_from_json(opts, &j->opts);
        if (json_object_object_get_ex(rp->submit, "images", &images))
                for (size_t i = 0; i < json_object_array_length(images); i++)
                        (void)strv_extend(&j->image_hashes,
                                          json_object_get_string(json_object_array_get_idx(images, i)));
        j->image_sha256 = images_sha256_summary(j->image_hashes);

        if (rp->leave) {
                /* It had written and verified everything and asked the board to leave: the flash is done. */
                j->state = JOB_LEAVING;
                j->start_usec = j->submit_usec;
                (void)bus_job_add(j);
                job_finish(j, JOB_DONE, NULL);
                return 0;
        }
        r = image_set_load_spooled(ctx, j->image_hashes, &j->opts, &j->image, &error);
        if (r < 0) {
                (void)bus_job_add(j);
                job_finish(j, JOB_FAILED, dfu_error_message(&error));
                return 0;
        }
        log_info("Resuming job %" PRIu32 "%s.", j->id, j->interrupted ? " (interrupted while running)" : "");
        return queue_add(ctx, j);
}

int store_resume(Context *ctx) {
        ReplaySet s = {};
        int r;

        r = store_foreach(ctx, replay_record, &s);
        if (r < 0)
                log_error_errno(r, "Failed to read the job journal: %m");
        for (size_t i = 0; i < s.n; i++) {
                if (!s.items[i].ended)
                        (void)resume_job(ctx, &s.items[i]);
                json_object_put(s.items[i].submit);
        }
        free(s.items);
        return r < 0 ? r : 0;
}

/* A GetHistory call: the journal is read and filtered on a thread, the reply built on the loop. */
typedef struct HistoryQuery {
        Context *ctx;
        sd_bus_message *message;
        uint64_t since;
        char *port, *serial;
        uint32_t limit;
        json_object *matches; /* array */
        int result;
} HistoryQuery;

static HistoryQuery *history_query_free(HistoryQuery *q) {
        if (!q)
                return NULL;
        sd_bus_message_unref(q->message);
        free(q->port);
        free(q->serial);
        json_object_put(q->matches);
        free(q);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(HistoryQuery *, history_query_free);

static int history_record(Context *ctx, json_object *o, void *userdata) {
        HistoryQuery *q = userdata;
        const char *event = get_str(o, "event"), *v;
        size_t n;

        if (!event || !streq(event, "end"))
                return 0;
        if (q->since && get_u64(o, "end-time") < q->since)
                return 0;
        if (q->port && (!(v = get_str(o, "port")) || !streq(v, q->port)))
                return 0;
        if (q->serial && (!(v = get_str(o, "serial")) || !streq(v, q->serial)))
                return 0;
        json_object_array_add(q->matches, json_object_get(o));
        /* Newest last: with a limit only the tail is kept, so a long journal costs no memory. */
        n = json_object_array_length(q->matches);
        if (q->limit && n >= 2 * (size_t)q->limit)
                json_object_array_del_idx(q->matches, 0, n - q->limit);
        return 0;
}

static int append_entry(sd_bus_message *m, json_object *o) {
        int r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        json_object_object_foreach(o, key, v) {
                if (streq(key, "event") || streq(key, "time"))
                        continue;
                if (json_object_is_type(v, json_type_string))
                        r = sd_bus_message_append(m, "{sv}", key, "s", json_object_get_string(v));
                else if (json_object_is_type(v, json_type_boolean))
                        r = sd_bus_message_append(m, "{sv}", key, "b", json_object_get_boolean(v));
                else if (json_object_is_type(v, json_type_int)) {
                        if (streq(key, "id") || streq(key, "rule") || streq(key, "dropped-segments"))
                                r = sd_bus_message_append(m, "{sv}", key, "u",
                                                          (uint32_t)json_object_get_uint64(v));
                        else
                                r = sd_bus_message_append(m, "{sv}", key, "t", json_object_get_uint64(v));
                }
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

static void history_run(void *userdata) {
        HistoryQuery *q = userdata;
        q->result = store_foreach(q->ctx, history_record, q);
}

static int history_reply(HistoryQuery *q) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        size_t n = json_object_array_length(q->matches), first = q->limit && n > q->limit ? n - q->limit : 0;
        int r;

        if (q->result < 0)
                return sd_bus_reply_method_errnof(q->message, q->result,
                                                  "Failed to read the job journal: %m");
        r = sd_bus_message_new_method_return(q->message, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "a{sv}");
        for (size_t i = first; r >= 0 && i < n; i++)
                r = append_entry(reply, json_object_array_get_idx(q->matches, i));
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return sd_bus_reply_method_errnof(q->message, r, "Failed to build the history: %m");
        return sd_bus_send(NULL, reply, NULL);
}

static void history_done(Context *ctx, void *userdata) {
        _cleanup_(history_query_freep) HistoryQuery *q = userdata;

        if (!ctx->exiting)
                (void)history_reply(q);
}

int store_history(Context *ctx, sd_bus_message *m, uint64_t since, const char *port, const char *serial,
                  uint32_t limit) {
        _cleanup_(history_query_freep) HistoryQuery *q = calloc(1, sizeof(HistoryQuery));
        int r;

        if (!q)
                return -ENOMEM;
        *q = (HistoryQuery){.ctx = ctx, .since = since, .limit = limit, .matches = json_object_new_array()};
        if (!q->matches || (port && !(q->port = strdup(port))) || (serial && !(q->serial = strdup(serial))))
                return -ENOMEM;
        q->message = sd_bus_message_ref(m);
        r = task_start(ctx, history_run, history_done, q);
        if (r < 0)
                return r;
        TAKE_PTR(q);
        return 1;
}
