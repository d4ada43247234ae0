/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <time.h>

#include "context.h"
#include "log.h"

uint64_t now_realtime_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t now_monotonic_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

int context_new(Context **ret) {
        Context *c = calloc(1, sizeof(Context));
        if (!c)
                return -ENOMEM;
        c->wake_fd = -EBADF;
        c->store_fd = -EBADF;
        c->next_job_id = 1;
        c->next_rule_id = 1;
        pthread_mutex_init(&c->tasks_lock, NULL);
        pthread_mutex_init(&c->store_lock, NULL);
        pthread_cond_init(&c->store_cond, NULL);
        config_init(&c->config);
        *ret = c;
        return 0;
}

Context *context_free(Context *c) {
        if (!c)
                return NULL;

        /* Workers stop between two transfers; their jobs stay in the journal as unfinished. */
        c->exiting = true;
        atomic_store(&c->stopping, true);
        LIST_FOREACH (jobs, j, c->jobs)
                atomic_store(&j->cancel, true);
        tasks_join_all(c);
        store_writer_stop(c);

        LIST_FOREACH_SAFE(jobs, j, n, c->jobs)
        job_free(j);
        LIST_FOREACH_SAFE(rules, r, n, c->rules)
        rule_free(r);
        LIST_FOREACH_SAFE(devices, d, n, c->devices)
        device_free(d);

        sd_event_source_disable_unref(c->progress_timer);
        sd_event_source_disable_unref(c->wake_source);
        sd_event_source_disable_unref(c->monitor_source);
        if (c->monitor)
                udev_monitor_unref(c->monitor);
        if (c->udev)
                udev_unref(c->udev);
        if (c->usb)
                libusb_exit(c->usb);
        sd_bus_flush_close_unref(c->bus);
        sd_event_unref(c->event);
        safe_close(c->wake_fd);
        safe_close(c->store_fd);
        pthread_mutex_destroy(&c->tasks_lock);
        pthread_mutex_destroy(&c->store_lock);
        pthread_cond_destroy(&c->store_cond);
        config_done(&c->config);
        free(c->config_path);
        free(c->runtime_dir);
        free(c);
        return NULL;
}
