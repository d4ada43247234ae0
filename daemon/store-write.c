/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "log.h"

/*
 * The job journal's writer thread. Records are appended in the order they were queued, a batch at a
 * time followed by one fdatasync(), so that the event loop never waits for the disk. A record's
 * completion runs on the loop once it is durable: only then does a caller hear of what it records.
 */

struct StoreWrite {
        char *line;
        StoreDoneFn done;
        void *userdata;
        int result;
        bool waited; /* a worker thread waits for it and frees it */
        bool finished;
        LIST_FIELDS(StoreWrite, writes);
};

static void store_write_batch(Context *ctx, StoreWrite *batch) {
        int r = 0;

        LIST_FOREACH (writes, w, batch) {
                size_t len = strlen(w->line);
                ssize_t k = r < 0 ? -1 : write(ctx->store_fd, w->line, len);
                if (r >= 0 && k != (ssize_t)len)
                        r = k < 0 ? -errno : -EIO;
                w->result = r;
        }
        if (r >= 0 && fdatasync(ctx->store_fd) < 0)
                r = -errno;
        LIST_FOREACH (writes, w, batch)
                if (w->result >= 0)
                        w->result = r;
        if (r < 0)
                log_error_errno(r, "Failed to write the job journal: %m");
}

static void *store_thread(void *p) {
        Context *ctx = p;

        pthread_mutex_lock(&ctx->store_lock);
        for (;;) {
                while (!ctx->store_queue && !ctx->store_stop)
                        pthread_cond_wait(&ctx->store_cond, &ctx->store_lock);
                if (!ctx->store_queue)
                        break;
                StoreWrite *batch = TAKE_PTR(ctx->store_queue);
                pthread_mutex_unlock(&ctx->store_lock);

                store_write_batch(ctx, batch);

                pthread_mutex_lock(&ctx->store_lock);
                LIST_FOREACH_SAFE(writes, w, n, batch) {
                        LIST_REMOVE(writes, batch, w);
                        w->finished = true;
                        if (!w->waited)
                                LIST_APPEND(writes, ctx->store_done, w);
                }
                pthread_cond_broadcast(&ctx->store_cond);
                tasks_wake(ctx);
        }
        pthread_mutex_unlock(&ctx->store_lock);
        return NULL;
}

int store_writer_start(Context *ctx) {
        int r = pthread_create(&ctx->store_thread, NULL, store_thread, ctx);
        if (r != 0)
                return log_error_errno(r, "Failed to start the journal writer: %m");
        ctx->store_thread_running = true;
        return 0;
}

static void store_write_free(StoreWrite *w) {
        free(w->line);
        free(w);
}

void store_writer_reap(Context *ctx) {
        StoreWrite *done;

        pthread_mutex_lock(&ctx->store_lock);
        done = TAKE_PTR(ctx->store_done);
        pthread_mutex_unlock(&ctx->store_lock);

        LIST_FOREACH_SAFE(writes, w, n, done) {
                if (w->done)
                        w->done(ctx, w->result, w->userdata);
                store_write_free(w);
        }
}

/* Writes out everything queued, then runs the completions (which see ctx->exiting). */
void store_writer_stop(Context *ctx) {
        if (!ctx->store_thread_running)
                return;
        pthread_mutex_lock(&ctx->store_lock);
        ctx->store_stop = true;
        pthread_cond_broadcast(&ctx->store_cond);
        pthread_mutex_unlock(&ctx->store_lock);
        (void)pthread_join(ctx->store_thread, NULL);
        ctx->store_thread_running = false;
        store_writer_reap(ctx);
}

static StoreWrite *store_write_new(json_object *o) {
        StoreWrite *w = calloc(1, sizeof(StoreWrite));
        if (!w)
                return NULL;
        if (asprintf(&w->line, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)) < 0) {
                free(w);
                return NULL;
        }
        return w;
}

static void store_enqueue(Context *ctx, StoreWrite *w) {
        pthread_mutex_lock(&ctx->store_lock);
        LIST_APPEND(writes, ctx->store_queue, w);
        pthread_cond_broadcast(&ctx->store_cond);
        pthread_mutex_unlock(&ctx->store_lock);
}

int store_write_async(Context *ctx, json_object *o, StoreDoneFn done, void *userdata) {
        StoreWrite *w;

        if (ctx->store_fd < 0 || !ctx->store_thread_running)
                return -EBADF;
        w = store_write_new(o);
        if (!w)
                return -ENOMEM;
        w->done = done;
        w->userdata = userdata;
        store_enqueue(ctx, w);
        return 0;
}

int store_write_sync(Context *ctx, json_object *o) {
        StoreWrite *w;
        int r;

        if (ctx->store_fd < 0 || !ctx->store_thread_running)
                return -EBADF;
        w = store_write_new(o);
        if (!w)
                return -ENOMEM;
        w->waited = true;
        store_enqueue(ctx, w);
        pthread_mutex_lock(&ctx->store_lock);
        while (!w->finished)
                pthread_cond_wait(&ctx->store_cond, &ctx->store_lock);
        pthread_mutex_unlock(&ctx->store_lock);
        r = w->result;
        store_write_free(w);
        return r;
}
