/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Preloaded before libumockdev-preload.so by dfusd-sim, into the programs under the testbed.
 *
 * umockdev turns a process's uevent netlink socket into a Unix socket bound at
 * $UMOCKDEV_DIR/event<fd>, unlinking whatever was there first. Two processes that open a udev monitor
 * on the same fd number (every libusb_init() does) take the path from each other: the first one stops
 * receiving uevents, or one of them fails to bind. Here, under a lock shared by all processes of the
 * testbed, umockdev binds and the socket is then renamed to event<fd>-<pid>, a path of its own that
 * umockdev's sender still finds (it sends to every event[0-9]*). In dfusd-sim itself, it keeps
 * umockdev's sender from exiting on a listener that closed while a uevent was on its way (sendmsg()).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
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

typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);
typedef ssize_t (*sendmsg_fn)(int, const struct msghdr *, int);

/* The listener path the calling thread last connected a socket to: umockdev's sender connects, sends
 * and closes on one thread, and a connected send names no address. */
static __thread int listener_fd = -1;
static __thread char listener_path[sizeof(((struct sockaddr_un *)NULL)->sun_path)];

/* Whether path names one of the testbed's uevent listeners: $UMOCKDEV_DIR/event<...>. */
static bool is_listener_path(const char *path) {
        const char *dir = getenv("UMOCKDEV_DIR");
        size_t n = dir ? strlen(dir) : 0;

        return n > 0 && strncmp(path, dir, n) == 0 && strncmp(path + n, "/event", 6) == 0;
}

int connect(int fd, const struct sockaddr *addr, socklen_t len) {
        static connect_fn next;
        const struct sockaddr_un *sa = (const struct sockaddr_un *)addr;

        if (!next)
                next = (connect_fn)dlsym(RTLD_NEXT, "connect");
        if (!next) {
                errno = ENOSYS;
                return -1;
        }
        /* a later socket may get the same fd number: only this connect counts */
        listener_fd = -1;
        if (sa && len > sizeof(sa_family_t) && sa->sun_family == AF_UNIX &&
            memchr(sa->sun_path, 0, len - sizeof(sa_family_t)) && is_listener_path(sa->sun_path)) {
                listener_fd = fd;
                snprintf(listener_path, sizeof(listener_path), "%s", sa->sun_path);
        }
        return next(fd, addr, len);
}

/*
 * umockdev's uevent sender (in dfusd-sim) exits when a listener it has just connected to refuses the
 * datagram: a client closing its monitor between the two (dfu-util exiting right after :leave, as
 * its board leaves) would take the whole rack down. A listener that is gone cannot receive anything:
 * drop its path and count the datagram as delivered, as the kernel does for a netlink group nobody
 * listens to.
 */
ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
        static sendmsg_fn next;
        const struct sockaddr_un *sa = msg ? msg->msg_name : NULL;
        const char *path = NULL;
        size_t total = 0;
        ssize_t r;
        int saved;

        if (!next)
                next = (sendmsg_fn)dlsym(RTLD_NEXT, "sendmsg");
        if (!next) {
                errno = ENOSYS;
                return -1;
        }
        r = next(fd, msg, flags);
        if (r >= 0 || errno != ECONNREFUSED || !msg)
                return r;
        saved = errno;
        if (sa && msg->msg_namelen > sizeof(sa_family_t) && sa->sun_family == AF_UNIX &&
            memchr(sa->sun_path, 0, msg->msg_namelen - sizeof(sa_family_t)))
                path = sa->sun_path;
        else if (!sa && fd == listener_fd)
                path = listener_path;
        if (!path || !is_listener_path(path)) {
                errno = saved;
                return r;
        }
        (void)unlink(path);
        for (size_t i = 0; i < msg->msg_iovlen; i++)
                total += msg->msg_iov[i].iov_len;
        return (ssize_t)total;
}
