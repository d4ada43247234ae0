/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "exit-codes.h"

/*
 * Options every verb shares, parsed once in dfusctl.c wherever they stand on the command line;
 * everything else is handed to the verb as its own argv (argv[0] = the verb's name).
 */
typedef struct DfusctlContext {
        bool json;        /* one JSON document on stdout instead of text */
        bool user;        /* the session bus instead of the system bus */
        bool no_legend;   /* no column headers, no totals */
        const char *host; /* -H: [user@]host, reached over ssh */
        bool color;       /* stdout is a terminal and NO_COLOR is unset */
        /* Hidden, what -H runs on the host: the files come on stdin (remote.h). */
        bool images_from_stdin;
        /* The verb's own argv (argv[0] is its name), as its option parsing left it: what -H sends. */
        int argc;
        char **argv;
        struct RemoteFiles *files; /* -H: the files to send; --images-from-stdin: those received */
} DfusctlContext;

/* Returns an exit code from exit-codes.h. */
typedef int (*DfusctlVerbFn)(int argc, char *argv[], const DfusctlContext *ctx);

typedef struct DfusctlVerb {
        const char *name;
        const char *synopsis; /* arguments, for the usage line */
        const char *summary;  /* one line for `dfusctl --help` */
        DfusctlVerbFn run;
        void (*help)(void); /* `dfusctl VERB --help`, optional */
} DfusctlVerb;

int verb_inspect(int argc, char *argv[], const DfusctlContext *ctx);
void verb_inspect_help(void);
int verb_keygen(int argc, char *argv[], const DfusctlContext *ctx);
void verb_keygen_help(void);
int verb_sign(int argc, char *argv[], const DfusctlContext *ctx);
void verb_sign_help(void);
