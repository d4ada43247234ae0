/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <sys/eventfd.h>

#include "context.h"
#include "log.h"

/*
 * Blocking work (USB transfers, reading a caller's pipe) runs on its own thread; its completion is
 * handed back to the event loop through an eventfd, so that every bus object is only ever touched by
 * the loop thread.
 */

struct Task {
        Context *ctx;
        TaskRunFn run;
        TaskDoneFn done;
        void *userdata;
        pthread_t thread;
        LIST_FIELDS(Task, tasks);
};

void tasks_wake(Context *ctx) {
        uint64_t one = 1;
        /* EAGAIN means the counter is already non-zero: the loop wakes anyway. */
        (void)!write(ctx->wake_fd, &one, sizeof(one));
}

static void *task_thread(void *p) {
        Task *t = p;
        Context *ctx = t->ctx;

        t->run(t->userdata);

        pthread_mutex_lock(&ctx->tasks_lock);
        LIST_REMOVE(tasks, ctx->tasks_running, t);
        LIST_PREPEND(tasks, ctx->tasks_done, t);
        pthread_mutex_unlock(&ctx->tasks_lock);
        tasks_wake(ctx);
        return NULL;
}

static void tasks_reap(Context *ctx) {
        Task *done;

        pthread_mutex_lock(&ctx->tasks_lock);
        done = TAKE_PTR(ctx->tasks_done);
        pthread_mutex_unlock(&ctx->tasks_lock);

        LIST_FOREACH_SAFE(tasks, t, n, done) {
                (void)pthread_join(t->thread, NULL);
                if (t->done)
                        t->done(ctx, t->userdata);
                free(t);
        }
}

static int on_wake(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Context *ctx = userdata;
        uint64_t v;

        (void)!read(fd, &v, sizeof(v));
        tasks_reap(ctx);
        store_writer_reap(ctx);
        worker_flush_all(ctx);
        return 0;
}

int tasks_setup(Context *ctx) {
        int r;

        ctx->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (ctx->wake_fd < 0)
                return log_error_errno(errno, "Failed to create eventfd: %m");
        r = sd_event_add_io(ctx->event, &ctx->wake_source, ctx->wake_fd, EPOLLIN, on_wake, ctx);
        if (r < 0)
                return log_error_errno(r, "Failed to watch eventfd: %m");
        /* Completions go before new bus requests, so a reply never sees a stale job. */
        (void)sd_event_source_set_priority(ctx->wake_source, SD_EVENT_PRIORITY_IMPORTANT);
        return 0;
}

int task_start(Context *ctx, TaskRunFn run, TaskDoneFn done, void *userdata) {
        Task *t = calloc(1, sizeof(Task));
        pthread_attr_t attr;
        int r;

        if (!t)
                return -ENOMEM;
        *t = (Task){.ctx = ctx, .run = run, .done = done, .userdata = userdata};

        /* Small stacks: 32 boards at once must stay well inside the RSS budget. */
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        pthread_mutex_lock(&ctx->tasks_lock);
        LIST_PREPEND(tasks, ctx->tasks_running, t);
        r = pthread_create(&t->thread, &attr, task_thread, t);
        if (r != 0)
                LIST_REMOVE(tasks, ctx->tasks_running, t);
        pthread_mutex_unlock(&ctx->tasks_lock);
        pthread_attr_destroy(&attr);
        if (r != 0) {
                free(t);
                return -r;
        }
        return 0;
}

/* At exit: waits for every thread (jobs were told to cancel) and runs their completions. */
void tasks_join_all(Context *ctx) {
        for (;;) {
                Task *running;

                pthread_mutex_lock(&ctx->tasks_lock);
                running = ctx->tasks_running;
                pthread_mutex_unlock(&ctx->tasks_lock);
                if (!running && !ctx->tasks_done)
                        break;
                if (running) {
                        /* The thread moves itself to tasks_done and is joined by tasks_reap. */
                        struct timespec ts = {0, 10 * 1000 * 1000};
                        nanosleep(&ts, NULL);
                }
                tasks_reap(ctx);
        }
}
