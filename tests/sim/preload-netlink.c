/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Preloaded before libumockdev-preload.so by dfusd-sim, into the programs under the testbed.
 *
 * umockdev turns a process's uevent netlink socket into a Unix socket bound at
 * $UMOCKDEV_DIR/event<fd>, unlinking whatever was there first. Two processes that open a udev monitor
 * on the same fd number (every libusb_init() does) take the path from each other: the first one stops
 * receiving uevents, or one of them fails to bind. Here, under a lock shared by all processes of the
 * testbed, umockdev binds and the socket is then renamed to event<fd>-<pid>, a path of its own that
 * umockdev's sender still finds (it sends to every event[0-9]*).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);

/* Moves the socket umockdev just bound to a path no other process will unlink. */
static void move_socket(int fd, const char *dir) {
        struct sockaddr_un sa;
        socklen_t len = sizeof(sa);
        char path[sizeof(sa.sun_path)], own[PATH_MAX];

        if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0 || sa.sun_family != AF_UNIX)
                return;
        snprintf(path, sizeof(path), "%s", sa.sun_path);
        if (strncmp(path, dir, strlen(dir)) != 0)
                return;
        if (snprintf(own, sizeof(own), "%s-%ld", path, (long)getpid()) >= (int)sizeof(sa.sun_path))
                return;    /* clients could not connect to a longer path: leave it */
        (void)unlink(own); /* left by a socket this process closed on the same fd number */
        (void)rename(path, own);
}

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
        static bind_fn next;
        const char *dir = getenv("UMOCKDEV_DIR");
        char lock_path[PATH_MAX];

        if (!next)
                next = (bind_fn)dlsym(RTLD_NEXT, "bind");
        if (!next) {
                errno = ENOSYS;
                return -1;
        }
        if (!addr || addr->sa_family != AF_NETLINK || !dir ||
            snprintf(lock_path, sizeof(lock_path), "%s/netlink.lock", dir) >= (int)sizeof(lock_path))
                return next(fd, addr, len);

        int saved, lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lock >= 0)
                (void)flock(lock, LOCK_EX);
        int r = next(fd, addr, len);
        saved = errno;
        if (r == 0)
                move_socket(fd, dir);
        if (lock >= 0)
                (void)close(lock);
        errno = saved;
        return r;
}
