/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Files over `dfusctl -H HOST`. File descriptors cannot cross ssh, so a command that hands files to
 * dfusd (flash, rule add, inspect --device, sequence add --list) runs whole on HOST:
 *
 *   ssh -xT [-p PORT] -- [USER@]HOST dfusctl --images-from-stdin ARGS...
 *
 * with every file it opened streamed on ssh's standard input (image-stream.h), each under its base
 * name, which stands for its path in ARGS. The dfusctl there reads them into memfds first and opens
 * nothing else; its output and exit status are the command's.
 */
#include <stdbool.h>
#include <stddef.h>

#include "dfusctl.h"
#include "image-stream.h"

typedef struct RemoteFiles {
        bool received; /* --images-from-stdin: files[] came from the stream; else -H: to send */
        ImageStreamFile files[IMAGE_STREAM_FILES_MAX];
        /* -H: the argument of the verb's argv that holds the file's path, and where in it the path
         * starts ("--signature=FILE"); -1 for a path the remote side derives (IMAGE.sig). */
        int arg[IMAGE_STREAM_FILES_MAX];
        size_t arg_offset[IMAGE_STREAM_FILES_MAX];
        size_t n;
} RemoteFiles;

/* Opens a file the command reads and hands on ("-" is standard input). With -H, also keeps a copy
 * of it for remote_run(); with --images-from-stdin, gives the streamed file of that name instead,
 * never a local one. Returns a descriptor or a negative errno (-ENOENT: no such file); a problem only
 * -H has (a second file of the same base name, a file over the size cap) is printed here. */
int remote_open_input(const DfusctlContext *ctx, const char *path);

/* -H: runs the verb's command line on the host with the files opened so far. Returns the exit status
 * of the remote dfusctl, or EXIT_NO_DAEMON when ssh could not run it (printed). */
int remote_run(const DfusctlContext *ctx);

/* --images-from-stdin: reads the stream on standard input into files. Returns an exit status:
 * EXIT_STREAM for a stream cut short or malformed (printed). */
int remote_receive(RemoteFiles *files);

void remote_files_done(RemoteFiles *files);

/* Splits -H's [USER@]HOST[:PORT]; *ret_port is NULL without a port. Returns 0 or -ENOMEM. */
int remote_host_split(const char *host, char **ret_host, char **ret_port);
/* "ssh [-p PORT] [USER@]HOST COMMAND" for -H's argument, to show in messages; NULL without memory. */
char *remote_ssh_command(const char *host, const char *command);
