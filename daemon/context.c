/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "context.h"
#include "log.h"

int context_new(Context **ret) {
        Context *c = calloc(1, sizeof(Context));
        int r;

        if (!c)
                return -ENOMEM;
        c->lock_fd = -EBADF;
        r = sd_event_default(&c->event);
        if (r >= 0)
                r = manager_new(c->event, &c->manager);
        if (r < 0) {
                context_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

Context *context_free(Context *c) {
        if (!c)
                return NULL;
        /* The core first: its threads end and their completions run while the bus still exists. */
        c->manager = manager_free(c->manager);
        /* it must not reach back into the manager freed above */
        if (c->bus)
                c->bus->manager = NULL;
        c->bus = bus_free(c->bus);
        sd_event_source_disable_unref(c->monitor_source);
        if (c->monitor)
                udev_monitor_unref(c->monitor);
        if (c->udev)
                udev_unref(c->udev);
        if (c->usb)
                libusb_exit(c->usb);
        sd_event_unref(c->event);
        safe_close(c->lock_fd);
        return mfree(c);
}

int context_lock_state_dir(Context *c) {
        const char *dir = c->manager->config.state_dir;
        _cleanup_free_ char *path = NULL;
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        char pid[32];

        if (mkdir(dir, 0750) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Failed to create %s: %m", dir);
        if (asprintf(&path, "%s/dfusd.lock", dir) < 0)
                return log_oom();
        c->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (c->lock_fd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", path);
        /* An open file description lock: released by the kernel however the holder ends. */
        if (fcntl(c->lock_fd, F_OFD_SETLK, &fl) < 0) {
                int e = errno;
                ssize_t k;

                if (e != EAGAIN && e != EACCES)
                        return log_error_errno(e, "Failed to lock %s: %m", path);
                /* The holder wrote its pid into the file once it had the lock. */
                k = pread(c->lock_fd, pid, sizeof(pid) - 1, 0);
                pid[MAX(k, (ssize_t)0)] = 0;
                pid[strcspn(pid, "\n")] = 0;
                return log_error_errno(EBUSY, "%s is in use by another dfusd (pid %s); exiting.", dir,
                                       *pid ? pid : "unknown");
        }
        (void)snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
        if (ftruncate(c->lock_fd, 0) < 0 || pwrite(c->lock_fd, pid, strlen(pid), 0) < 0)
                log_debug_errno(errno, "Failed to write the pid to %s: %m", path);
        return 0;
}

void context_ready(Context *c) {
        _cleanup_free_ char *status = NULL;

        if (c->ready)
                return;
        c->ready = true;
        manager_boards_known(c->manager);
        if (bus_attach(c->bus) < 0) {
                (void)sd_event_exit(c->event, -EIO);
                return;
        }
        log_info("Ready on the %s bus as %s, %u board(s) attached.", c->user ? "session" : "system",
                 DFUSD_BUS_NAME, c->manager->n_devices);
        (void)manager_status(c->manager, &status);
        (void)sd_notifyf(false, "READY=1\nSTATUS=%s", status ? status : "Ready.");
}
