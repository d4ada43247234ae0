/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "store-internal.h"

/*
 * The writer thread owns the write connection. It takes what is queued, applies it in call order in one
 * transaction, each write under its own savepoint so that one refused write does not take the others
 * with it, and commits. Only then are the completions handed to the event loop (through an eventfd):
 * with synchronous=FULL a committed transaction survives a crash, so nobody hears of a write that a
 * crash could lose.
 */

static void store_queue_append(StoreQueue *q, StoreWrite *w) {
        w->next = NULL;
        if (q->tail)
                q->tail->next = w;
        else
                q->head = w;
        q->tail = w;
}

static StoreWrite *store_queue_take(StoreQueue *q, size_t max) {
        StoreWrite *head = q->head, *last = head;

        for (size_t n = 1; last && last->next && n < max; n++)
                last = last->next;
        if (!last)
                return NULL;
        q->head = last->next;
        if (!q->head)
                q->tail = NULL;
        last->next = NULL;
        return head;
}

static int store_savepoint_apply(Store *s, StoreWrite *w) {
        int r = store_exec(s->db, "SAVEPOINT w");
        if (r < 0)
                return r;
        r = store_apply(s, w);
        /* An I/O or disk-full error may have rolled back the whole transaction: nothing to undo to. */
        if (r < 0 && !sqlite3_get_autocommit(s->db))
                (void)store_exec(s->db, "ROLLBACK TO w");
        if (!sqlite3_get_autocommit(s->db))
                (void)store_exec(s->db, "RELEASE w");
        return r;
}

static void store_writer_batch(Store *s, StoreWrite *batch) {
        int r = store_exec(s->db, "BEGIN IMMEDIATE");

        for (StoreWrite *w = batch; w; w = w->next) {
                if (r < 0) {
                        w->result = r;
                        continue;
                }
                w->result = store_savepoint_apply(s, w);
                if (w->result < 0 && sqlite3_get_autocommit(s->db))
                        r = w->result;
        }
        if (r >= 0)
                r = store_exec(s->db, "COMMIT");
        if (r < 0 && !sqlite3_get_autocommit(s->db))
                (void)store_exec(s->db, "ROLLBACK");
        if (r < 0)
                for (StoreWrite *w = batch; w; w = w->next)
                        if (w->result >= 0)
                                w->result = r;
}

static void store_writer_signal(Store *s) {
        uint64_t one = 1;
        /* Cannot fail short of a counter overflow; a missed wake-up would only delay completions. */
        (void)!write(s->done_fd, &one, sizeof(one));
}

static void *store_writer_thread(void *p) {
        Store *s = p;

        pthread_mutex_lock(&s->lock);
        for (;;) {
                while (!s->queue.head && !s->stop)
                        pthread_cond_wait(&s->cond, &s->lock);
                StoreWrite *batch = store_queue_take(&s->queue, STORE_BATCH_MAX), *next;
                if (!batch)
                        break;
                pthread_mutex_unlock(&s->lock);

                store_writer_batch(s, batch);

                pthread_mutex_lock(&s->lock);
                for (StoreWrite *w = batch; w; w = next) {
                        /* A waited write belongs to its waiter as soon as it is marked finished. */
                        next = w->next;
                        if (!w->waited)
                                store_queue_append(&s->done, w);
                        w->finished = true;
                }
                pthread_cond_broadcast(&s->cond);
                store_writer_signal(s);
        }
        pthread_mutex_unlock(&s->lock);
        return NULL;
}

static void store_writer_dispatch(Store *s) {
        StoreWrite *done, *next;

        pthread_mutex_lock(&s->lock);
        done = s->done.head;
        s->done = (StoreQueue){};
        pthread_mutex_unlock(&s->lock);

        for (StoreWrite *w = done; w; w = next) {
                next = w->next;
                if (w->allocated)
                        w->allocated(w->result, w->values, w->n_values, w->exhausted, w->userdata);
                else if (w->done)
                        w->done(w->result, w->userdata);
                store_write_free(w);
        }
}

static int store_writer_on_done(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        uint64_t n;

        (void)!read(fd, &n, sizeof(n));
        store_writer_dispatch(userdata);
        return 0;
}

int store_writer_start(Store *s) {
        int r;

        s->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (s->done_fd < 0)
                return -errno;
        r = sd_event_add_io(s->event, &s->done_source, s->done_fd, EPOLLIN, store_writer_on_done, s);
        if (r < 0)
                return r;
        (void)sd_event_source_set_description(s->done_source, "store-done");
        r = pthread_create(&s->thread, NULL, store_writer_thread, s);
        if (r != 0)
                return -r;
        s->thread_running = true;
        return 0;
}

void store_writer_stop(Store *s) {
        if (s->thread_running) {
                pthread_mutex_lock(&s->lock);
                s->stop = true;
                pthread_cond_broadcast(&s->cond);
                pthread_mutex_unlock(&s->lock);
                (void)pthread_join(s->thread, NULL);
                s->thread_running = false;
        }
        store_writer_dispatch(s);
        s->done_source = sd_event_source_disable_unref(s->done_source);
        s->done_fd = safe_close(s->done_fd);
}

StoreWrite *store_write_free(StoreWrite *w) {
        if (!w)
                return NULL;
        switch (w->kind) {
        case STORE_WRITE_SUBMIT:
                free((char *)w->submit.target);
                free((char *)w->submit.options_json);
                strv_free((char **)w->submit.image_hashes);
                break;
        case STORE_WRITE_START:
                free((char *)w->start.port);
                free((char *)w->start.serial);
                free((char *)w->start.station);
                break;
        case STORE_WRITE_END:
                free((char *)w->end.result);
                free((char *)w->end.error);
                free((char *)w->end.port);
                free((char *)w->end.serial);
                free((char *)w->end.station);
                free((char *)w->end.target);
                free((char *)w->end.image_sha256);
                free((char *)w->end.trust);
                free((char *)w->end.protection);
                break;
        case STORE_WRITE_RULE_ADD:
                free(w->rule.options_json);
                strv_free(w->rule.image_hashes);
                strv_free(w->rule.flashed);
                free(w->rule.trust);
                break;
        case STORE_WRITE_RULE_FLASHED:
                free(w->flashed.key);
                break;
        case STORE_WRITE_SEQUENCE_ADD:
                store_sequence_done(&w->sequence);
                break;
        case STORE_WRITE_SEQUENCE_REMOVE:
                free(w->sequence_name);
                break;
        default:
                break;
        }
        strv_free(w->sequences);
        store_values_free(w->values, w->n_values);
        free(w->exhausted);
        return mfree(w);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(StoreWrite *, store_write_free);

static StoreWrite *store_write_new(StoreWriteKind kind, StoreDoneFn done, void *userdata) {
        StoreWrite *w = calloc(1, sizeof(StoreWrite));
        if (w)
                *w = (StoreWrite){.kind = kind, .done = done, .userdata = userdata};
        return w;
}

/* Copies an optional string; false only when the copy failed. */
static bool dup_opt(const char **dst, const char *src) {
        *dst = src ? strdup(src) : NULL;
        return !src || *dst;
}

static bool dup_strv(char ***dst, char *const *src) {
        *dst = strv_copy(src);
        return *dst;
}

static int store_enqueue(Store *s, StoreWrite *w) {
        pthread_mutex_lock(&s->lock);
        if (s->stop || !s->thread_running) {
                pthread_mutex_unlock(&s->lock);
                store_write_free(w);
                return -ESHUTDOWN;
        }
        store_queue_append(&s->queue, w);
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        return 0;
}

int store_job_submit(Store *s, const StoreJobSubmit *j, StoreDoneFn done, void *userdata) {
        _cleanup_(store_write_freep) StoreWrite *w = NULL;

        if (!s || !j || j->id == 0)
                return -EINVAL;
        w = store_write_new(STORE_WRITE_SUBMIT, done, userdata);
        if (!w)
                return -ENOMEM;
        w->submit = (StoreJobSubmit){
                .id = j->id, .owner = j->owner, .submit_usec = j->submit_usec, .rule_id = j->rule_id};
        if (!dup_opt(&w->submit.target, j->target) || !dup_opt(&w->submit.options_json, j->options_json) ||
            !dup_strv((char ***)&w->submit.image_hashes, j->image_hashes))
                return -ENOMEM;
        return store_enqueue(s, TAKE_PTR(w));
}

int store_job_start(Store *s, const StoreJobStart *j, StoreDoneFn done, void *userdata) {
        _cleanup_(store_write_freep) StoreWrite *w = NULL;

        if (!s || !j || j->id == 0)
                return -EINVAL;
        w = store_write_new(STORE_WRITE_START, done, userdata);
        if (!w)
                return -ENOMEM;
        w->start = (StoreJobStart){.id = j->id, .start_usec = j->start_usec};
        if (!dup_opt(&w->start.port, j->port) || !dup_opt(&w->start.serial, j->serial) ||
            !dup_opt(&w->start.station, j->station))
                return -ENOMEM;
        return store_enqueue(s, TAKE_PTR(w));
}

int store_job_start_allocate(Store *s, const StoreJobStart *j, char *const *sequences, StoreAllocatedFn done,
                             void *userdata) {
        _cleanup_(store_write_freep) StoreWrite *w = NULL;

        if (!s || !j || j->id == 0 || !done)
                return -EINVAL;
        w = store_write_new(STORE_WRITE_START, NULL, userdata);
        if (!w)
                return -ENOMEM;
        w->allocated = done;
        w->start = (StoreJobStart){.id = j->id, .start_usec = j->start_usec};
        if (!dup_opt(&w->start.port, j->port) || !dup_opt(&w->start.serial, j->serial) ||
            !dup_opt(&w->start.station, j->station) || !dup_strv(&w->sequences, sequences))
                return -ENOMEM;
        return store_enqueue(s, TAKE_PTR(w));
}

int store_sequence_add(Store *s, const StoreSequence *q, StoreDoneFn done, void *userdata) {
        _cleanup_(store_write_freep) StoreWrite *w = NULL;

        if (!s || !q || !q->name)
                return -EINVAL;
        w = store_write_new(STORE_WRITE_SEQUENCE_ADD, done, userdata);
        if (!w)
                return -ENOMEM;
        w->sequence = (StoreSequence){.kind = q->kind,
                                      .start = q->start,
                                      .step = q->step,
                                      .last = q->last,
                                      .has_last = q->has_last,
                                      .owner = q->owner,
                                      .created_usec = q->created_usec};
        w->sequence.name = strdup(q->name);
        if (!w->sequence.name || (q->values && !dup_strv(&w->sequence.values, q->values)))
                return -ENOMEM;
        return store_enqueue(s, TAKE_PTR(w));
}

int store_sequence_remove(Store *s, const char *name, StoreDoneFn done, void *userdata) {
        _cleanup_(store_write_freep) StoreWrite *w = NULL;

        if (!s || !name)
                return -EINVAL;
        w = store_write_new(STORE_WRITE_SEQUENCE_REMOVE, done, userdata);
        if (!w)
                return -ENOMEM;
        w->sequence_name = strdup(name);
        if (!w->sequence_name)
                return -ENOMEM;
        return store_enqueue(s, TAKE_PTR(w));
}

int store_job_end(Store *s, const StoreJobEnd *j, StoreDoneFn done, void *userdata) {
        _cleanup_(store_write_freep) StoreWrite *w = NULL;

        if (!s || !j || j->id == 0 || !j->result)
                return -EINVAL;
        w = store_write_new(STORE_WRITE_END, done, userdata);
        if (!w)
                return -ENOMEM;
        w->end = *j;
        w->end.result = w->end.error = w->end.port = w->end.serial = w->end.station = w->end.target =
                w->end.image_sha256 = NULL;
        if (!dup_opt(&w->end.result, j->result) || !dup_opt(&w->end.error, j->error) ||
            !dup_opt(&w->end.port, j->port) || !dup_opt(&w->end.serial, j->serial) ||
            !dup_opt(&w->end.station, j->station) || !dup_opt(&w->end.target, j->target) ||
            !dup_opt(&w->end.image_sha256, j->image_sha256))
                return -ENOMEM;
        w->end.trust = w->end.protection = NULL;
        if (!dup_opt(&w->end.trust, j->trust) || !dup_opt(&w->end.protection, j->protection))
                return -ENOMEM;
        return store_enqueue(s, TAKE_PTR(w));
}

int store_rule_add(Store *s, const StoreRule *r, StoreDoneFn done, void *userdata) {
        _cleanup_(store_write_freep) StoreWrite *w = NULL;

        if (!s || !r || r->id == 0)
                return -EINVAL;
        w = store_write_new(STORE_WRITE_RULE_ADD, done, userdata);
        if (!w)
                return -ENOMEM;
        w->rule = (StoreRule){.id = r->id, .owner = r->owner};
        if (!dup_opt((const char **)&w->rule.options_json, r->options_json) ||
            !dup_strv(&w->rule.image_hashes, r->image_hashes) || !dup_strv(&w->rule.flashed, r->flashed) ||
            !dup_opt((const char **)&w->rule.trust, r->trust))
                return -ENOMEM;
        return store_enqueue(s, TAKE_PTR(w));
}

int store_rule_remove(Store *s, uint32_t id, StoreDoneFn done, void *userdata) {
        StoreWrite *w;

        if (!s || id == 0)
                return -EINVAL;
        w = store_write_new(STORE_WRITE_RULE_REMOVE, done, userdata);
        if (!w)
                return -ENOMEM;
        w->rule_id = id;
        return store_enqueue(s, w);
}

int store_rule_flashed(Store *s, uint32_t id, const char *board_key, StoreDoneFn done, void *userdata) {
        StoreWrite *w;

        if (!s || id == 0 || !board_key)
                return -EINVAL;
        w = store_write_new(STORE_WRITE_RULE_FLASHED, done, userdata);
        if (!w)
                return -ENOMEM;
        w->flashed.id = id;
        w->flashed.key = strdup(board_key);
        if (!w->flashed.key) {
                store_write_free(w);
                return -ENOMEM;
        }
        return store_enqueue(s, w);
}

int store_prune(Store *s, uint64_t before_usec, StoreDoneFn done, void *userdata) {
        StoreWrite *w;

        if (!s)
                return -EINVAL;
        w = store_write_new(STORE_WRITE_PRUNE, done, userdata);
        if (!w)
                return -ENOMEM;
        w->prune_before = before_usec;
        return store_enqueue(s, w);
}

int store_job_leave(Store *s, uint32_t id, uint64_t leave_usec) {
        StoreWrite *w;
        int r;

        if (!s || id == 0)
                return -EINVAL;
        w = store_write_new(STORE_WRITE_LEAVE, NULL, NULL);
        if (!w)
                return -ENOMEM;
        w->leave.id = id;
        w->leave.usec = leave_usec;
        w->waited = true;

        pthread_mutex_lock(&s->lock);
        if (s->stop || !s->thread_running) {
                pthread_mutex_unlock(&s->lock);
                store_write_free(w);
                return -ESHUTDOWN;
        }
        store_queue_append(&s->queue, w);
        pthread_cond_broadcast(&s->cond);
        while (!w->finished)
                pthread_cond_wait(&s->cond, &s->lock);
        pthread_mutex_unlock(&s->lock);
        r = w->result;
        store_write_free(w);
        return r;
}
