/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "manager.h"
#include "tasks.h"
#include "worker.h"

struct Task {
        Manager *manager;
        TaskRunFn run;
        TaskDoneFn done;
        void *userdata;
        pthread_t thread;
        LIST_FIELDS(Task, tasks);
};

void tasks_wake(Manager *m) {
        uint64_t one = 1;
        /* EAGAIN means the counter is already non-zero: the loop wakes anyway. */
        (void)!write(m->wake_fd, &one, sizeof(one));
}

static void *task_thread(void *p) {
        Task *t = p;
        Manager *m = t->manager;

        t->run(t->userdata);

        pthread_mutex_lock(&m->tasks_lock);
        LIST_REMOVE(tasks, m->tasks_running, t);
        LIST_PREPEND(tasks, m->tasks_done, t);
        pthread_mutex_unlock(&m->tasks_lock);
        tasks_wake(m);
        return NULL;
}

static void tasks_reap(Manager *m) {
        Task *done;

        pthread_mutex_lock(&m->tasks_lock);
        done = TAKE_PTR(m->tasks_done);
        pthread_mutex_unlock(&m->tasks_lock);

        LIST_FOREACH_SAFE(tasks, t, n, done) {
                (void)pthread_join(t->thread, NULL);
                m->n_tasks--;
                if (t->done)
                        t->done(m, t->userdata);
                free(t);
        }
}

static int on_wake(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        uint64_t v;

        (void)!read(fd, &v, sizeof(v));
        tasks_reap(m);
        worker_flush_all(m);
        return 0;
}

int tasks_setup(Manager *m) {
        int r;

        m->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (m->wake_fd < 0)
                return log_error_errno(errno, "Failed to create eventfd: %m");
        r = sd_event_add_io(m->event, &m->wake_source, m->wake_fd, EPOLLIN, on_wake, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch eventfd: %m");
        /* Completions go before new bus requests, so a reply never sees a stale job. */
        (void)sd_event_source_set_priority(m->wake_source, SD_EVENT_PRIORITY_IMPORTANT);
        return 0;
}

int tasks_start(Manager *m, TaskRunFn run, TaskDoneFn done, void *userdata) {
        pthread_attr_t attr;
        Task *t;
        int r;

        /* Every caller-driven thread counts: a flood of calls gets a clear refusal, not fd exhaustion. */
        if (m->n_tasks >= TASKS_MAX)
                return -EAGAIN;
        t = calloc(1, sizeof(Task));
        if (!t)
                return -ENOMEM;
        *t = (Task){.manager = m, .run = run, .done = done, .userdata = userdata};

        /* Small stacks: 32 boards at once must stay well inside the RSS budget. */
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        pthread_mutex_lock(&m->tasks_lock);
        LIST_PREPEND(tasks, m->tasks_running, t);
        r = pthread_create(&t->thread, &attr, task_thread, t);
        if (r != 0)
                LIST_REMOVE(tasks, m->tasks_running, t);
        pthread_mutex_unlock(&m->tasks_lock);
        pthread_attr_destroy(&attr);
        if (r != 0) {
                free(t);
                return -r;
        }
        m->n_tasks++;
        return 0;
}

void tasks_join_all(Manager *m) {
        for (;;) {
                bool running, done;

                pthread_mutex_lock(&m->tasks_lock);
                running = m->tasks_running;
                done = m->tasks_done;
                pthread_mutex_unlock(&m->tasks_lock);
                if (!running && !done)
                        break;
                if (running) {
                        /* The thread moves itself to tasks_done and is joined by tasks_reap. */
                        struct timespec ts = {0, 10 * 1000 * 1000};
                        nanosleep(&ts, NULL);
                }
                tasks_reap(m);
        }
}
