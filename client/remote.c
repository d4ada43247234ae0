/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "image/image.h"
#include "macro.h"
#include "output.h"
#include "remote.h"
#include "strv.h"

extern char **environ;

/* What ssh exits with when it could not connect or log in; the remote dfusctl never does. */
#define SSH_FAILED 255
/* What the remote shell exits with when it finds no dfusctl. */
#define SHELL_NOT_FOUND 127

void remote_files_done(RemoteFiles *files) {
        for (size_t i = 0; i < files->n; i++) {
                free(files->files[i].name);
                safe_close(files->files[i].fd);
        }
        files->n = 0;
}

int remote_host_split(const char *host, char **ret_host, char **ret_port) {
        const char *colon = strrchr(host, ':');
        /* "[::1]" has colons of its own: only digits after the last colon, outside brackets, are a port. */
        bool has_port = colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1) &&
                        !strchr(host, ']');
        _cleanup_free_ char *h = has_port ? strndup(host, (size_t)(colon - host)) : strdup(host);
        _cleanup_free_ char *p = has_port ? strdup(colon + 1) : NULL;

        if (!h || (has_port && !p))
                return -ENOMEM;
        *ret_host = TAKE_PTR(h);
        *ret_port = TAKE_PTR(p);
        return 0;
}

char *remote_ssh_command(const char *host, const char *command) {
        _cleanup_free_ char *h = NULL, *p = NULL;
        char *s;

        if (remote_host_split(host, &h, &p) < 0)
                return NULL;
        if (asprintf(&s, "ssh %s%s%s%s %s", p ? "-p " : "", p ?: "", p ? " " : "", h, command) < 0)
                return NULL;
        return s;
}

/* Where in the verb's argv the path stands: argv element and offset, or -1 when none holds it. */
static int arg_of(const DfusctlContext *ctx, const char *path, size_t *ret_offset) {
        uintptr_t p = (uintptr_t)path;

        for (int i = 0; i < ctx->argc; i++) {
                uintptr_t a = (uintptr_t)ctx->argv[i];

                if (p >= a && p <= a + strlen(ctx->argv[i])) {
                        *ret_offset = (size_t)(p - a);
                        return i;
                }
        }
        return -1;
}

/* A regular file goes as it is; a pipe or terminal is read into memory first, since each file's
 * size leads it in the stream. */
static int open_to_send(const char *path, uint64_t *ret_size) {
        _cleanup_close_ int fd = streq(path, "-") ? fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3)
                                                  : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        struct stat st;

        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (!S_ISREG(st.st_mode))
                return image_stream_memfd_from(fd, IMAGE_SIZE_CAP_DEFAULT, "dfusctl-stdin", ret_size);
        if ((uint64_t)st.st_size > IMAGE_SIZE_CAP_DEFAULT)
                return -EFBIG;
        *ret_size = (uint64_t)st.st_size;
        return TAKE_FD(fd);
}

static int add_to_send(const DfusctlContext *ctx, const char *path) {
        RemoteFiles *rf = ctx->files;
        const char *slash = strrchr(path, '/');
        const char *name = slash ? slash + 1 : path;
        ImageStreamFile *f = rf->files + rf->n;
        size_t offset = 0;
        uint64_t size = 0;
        int fd;

        if (!image_stream_name_valid(name)) {
                fprintf(stderr,
                        "dfusctl: %s: over -H a file travels under its base name, and \"%s\" is not one.\n",
                        path, name);
                return -EINVAL;
        }
        if (rf->n >= IMAGE_STREAM_FILES_MAX)
                return -E2BIG;
        fd = open_to_send(path, &size);
        if (fd == -EFBIG)
                fprintf(stderr, "dfusctl: %s is larger than the %llu bytes dfusd takes for a file.\n", path,
                        (unsigned long long)IMAGE_SIZE_CAP_DEFAULT);
        if (fd < 0)
                return fd;
        /* After the open: a missing IMAGE.sig is no signature, not a second file of its name. */
        for (size_t i = 0; i < rf->n; i++)
                if (streq(rf->files[i].name, name)) {
                        fprintf(stderr,
                                "dfusctl: %s: over -H files travel under their base names, and another "
                                "one is called %s too; rename one.\n",
                                path, name);
                        safe_close(fd);
                        return -ENOTUNIQ;
                }
        *f = (ImageStreamFile){.name = strdup(name), .fd = fd, .size = size};
        if (!f->name) {
                safe_close(fd);
                return -ENOMEM;
        }
        rf->arg[rf->n] = arg_of(ctx, path, &offset);
        rf->arg_offset[rf->n] = offset;
        rf->n++;
        return 0;
}

int remote_open_input(const DfusctlContext *ctx, const char *path) {
        int fd, r;

        if (ctx->files && ctx->files->received)
                return image_stream_open(ctx->files->files, ctx->files->n, path);
        if (ctx->host && ctx->files) {
                r = add_to_send(ctx, path);
                if (r < 0)
                        return r;
                /* The caller's own descriptor: it checks the file like any other. */
                fd = fcntl(ctx->files->files[ctx->files->n - 1].fd, F_DUPFD_CLOEXEC, 3);
                return fd < 0 ? -errno : fd;
        }
        fd = streq(path, "-") ? fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3)
                              : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        return fd < 0 ? -errno : fd;
}

/* 'arg' for a POSIX shell: everything but the single quote is literal inside single quotes. */
static char *shell_quote(const char *arg) {
        size_t n = 2;
        char *q, *p;

        for (const char *s = arg; *s; s++)
                n += *s == '\'' ? 4 : 1;
        q = p = malloc(n + 1);
        if (!q)
                return NULL;
        *p++ = '\'';
        for (const char *s = arg; *s; s++)
                if (*s == '\'')
                        p = stpcpy(p, "'\\''");
                else
                        *p++ = *s;
        *p++ = '\'';
        *p = '\0';
        return q;
}

static int append_quoted(char ***words, const char *arg) {
        _cleanup_free_ char *q = shell_quote(arg);

        return q ? strv_extend(words, q) : -ENOMEM;
}

/* The remote shell's command line: the verb's argv with each sent file's path replaced by its name. */
static char *remote_command(const DfusctlContext *ctx) {
        _cleanup_strv_free_ char **words = NULL;
        const RemoteFiles *rf = ctx->files;
        int r;

        r = strv_extend(&words, "dfusctl --images-from-stdin");
        if (r >= 0 && ctx->json)
                r = strv_extend(&words, "--json");
        if (r >= 0 && ctx->no_legend)
                r = strv_extend(&words, "--no-legend");
        for (int i = 0; r >= 0 && i < ctx->argc; i++) {
                _cleanup_free_ char *arg = NULL;
                size_t k;

                for (k = 0; k < rf->n && rf->arg[k] != i; k++)
                        ;
                if (k < rf->n &&
                    asprintf(&arg, "%.*s%s", (int)rf->arg_offset[k], ctx->argv[i], rf->files[k].name) < 0)
                        return NULL;
                r = append_quoted(&words, arg ?: ctx->argv[i]);
        }
        return r < 0 ? NULL : strv_join(words, " ");
}

static int ssh_spawn(const DfusctlContext *ctx, int stdin_fd, pid_t *ret_pid) {
        _cleanup_free_ char *host = NULL, *port = NULL, *command = remote_command(ctx);
        posix_spawn_file_actions_t actions;
        posix_spawnattr_t attr;
        sigset_t pipe_set;
        char *argv[8];
        size_t n = 0;
        int r;

        if (!command || remote_host_split(ctx->host, &host, &port) < 0)
                return -ENOMEM;
        argv[n++] = (char *)"ssh";
        /* As sd-bus runs it: no X11, and never a terminal, whose line discipline would mangle the
         * stream. */
        argv[n++] = (char *)"-xT";
        if (port) {
                argv[n++] = (char *)"-p";
                argv[n++] = port;
        }
        /* A HOST that looks like an option stays a host. */
        argv[n++] = (char *)"--";
        argv[n++] = host;
        argv[n++] = command;
        argv[n] = NULL;

        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        posix_spawn_file_actions_init(&actions);
        posix_spawnattr_init(&attr);
        /* We ignore SIGPIPE while we write to ssh; ssh itself gets the default back. */
        posix_spawnattr_setsigdefault(&attr, &pipe_set);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
        posix_spawn_file_actions_adddup2(&actions, stdin_fd, STDIN_FILENO);
        r = posix_spawnp(ret_pid, "ssh", &actions, &attr, argv, environ);
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
        return -r;
}

static int ssh_wait(pid_t pid) {
        int status;

        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* A failure of this side of -H: told on stderr, and as a document with --json like the bus's. */
static int remote_fail(const DfusctlContext *ctx, int status, const char *name, const char *fmt, ...)
        _printf_(4, 5);
static int remote_fail(const DfusctlContext *ctx, int status, const char *name, const char *fmt, ...) {
        _cleanup_free_ char *message = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&message, fmt, ap) < 0)
                message = NULL;
        va_end(ap);
        fprintf(stderr, "dfusctl: %s\n", message ?: "out of memory");
        if (ctx->json)
                (void)output_json_error(name, message ?: "out of memory", status, stdout);
        return status;
}

int remote_run(const DfusctlContext *ctx) {
        DfuError error = DFU_ERROR_INIT;
        struct sigaction ignore = {.sa_handler = SIG_IGN}, old;
        int pipe_fds[2], status, r, w;
        pid_t pid;

        if (pipe2(pipe_fds, O_CLOEXEC) < 0)
                return EXIT_IO;
        /* What this side printed so far comes before what the remote side prints. */
        fflush(NULL);
        r = ssh_spawn(ctx, pipe_fds[0], &pid);
        safe_close(pipe_fds[0]);
        if (r < 0) {
                safe_close(pipe_fds[1]);
                return remote_fail(ctx, EXIT_NO_DAEMON, "ssh", "Failed to run ssh for -H %s: %s", ctx->host,
                                   strerror(-r));
        }
        /* ssh going away shows as EPIPE here, and its exit status says why. */
        sigaction(SIGPIPE, &ignore, &old);
        w = image_stream_write(pipe_fds[1], ctx->files->files, ctx->files->n, &error);
        safe_close(pipe_fds[1]);
        sigaction(SIGPIPE, &old, NULL);
        status = ssh_wait(pid);
        if (w < 0 && w != -EPIPE) {
                return remote_fail(ctx, EXIT_IO, "io", "Failed to send the files to %s: %s", ctx->host,
                                   error.code ? error.message : strerror(-w));
        }
        if (status == SSH_FAILED || status == SHELL_NOT_FOUND || status < 0) {
                _cleanup_free_ char *check = remote_ssh_command(ctx->host, "dfusctl --version");

                return remote_fail(ctx, EXIT_NO_DAEMON, "ssh",
                                   "Could not run dfusctl on %s over ssh (%s); check that \"%s\" works.",
                                   ctx->host,
                                   status == SHELL_NOT_FOUND ? "it is not installed there" : "ssh failed",
                                   check ?: "ssh HOST dfusctl --version");
        }
        return status;
}

int remote_receive(RemoteFiles *files) {
        DfuError error = DFU_ERROR_INIT;
        ImageStreamFile *got = NULL;
        size_t n = 0;
        int r;

        r = image_stream_read(STDIN_FILENO, IMAGE_SIZE_CAP_DEFAULT, &got, &n, &error);
        if (r < 0) {
                fprintf(stderr, "dfusctl: Failed to read the files sent by dfusctl -H: %s\n",
                        error.code ? error.message : strerror(-r));
                return EXIT_STREAM;
        }
        /* image_stream_read() caps n at IMAGE_STREAM_FILES_MAX. */
        memcpy(files->files, got, n * sizeof(*got));
        files->n = n;
        files->received = true;
        free(got);
        return EXIT_ACCEPTED;
}
