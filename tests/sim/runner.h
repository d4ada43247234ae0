/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "sim.h"
#include "testbed.h"

/* One line of a --script file. Steps without "at" act before the command starts. */
typedef enum ScriptAction {
        SCRIPT_PLUG,    /* a new board appears at a port */
        SCRIPT_UNPLUG,  /* a board is pulled off the bus for good */
        SCRIPT_FAULT,   /* a fault is armed on a board */
        SCRIPT_RELEASE, /* boards held by --hold-until-busy go on */
} ScriptAction;

typedef struct ScriptStep {
        unsigned line;
        bool timed;
        double at; /* seconds after the command started, wall clock (not scaled) */
        ScriptAction action;
        char *port;
        const PartInfo *part; /* SCRIPT_PLUG; NULL: the rack's last part */
        bool protected_;      /* SCRIPT_PLUG */
        SimFaultSpec fault;   /* SCRIPT_FAULT */
} ScriptStep;

typedef struct Script {
        ScriptStep *steps;
        size_t n_steps;
} Script;

int script_parse(const char *path, const char *text, Script **ret, DfuError *error);
int script_load(const char *path, Script **ret, DfuError *error);
Script *script_free(Script *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Script *, script_free);

/* A board of the given part at a port: its unique ID (and so its serial) derives from the port. */
SimBoard *runner_make_board(const PartInfo *part, const char *port, double time_scale, bool read_protected);

/* Writes DIR/<port>.bin (the whole flash) and DIR/<port>.json (part, serial, counters). */
int dump_board(TestbedBoard *b, const char *dir, DfuError *error);
/* Writes DIR/rack.json: what the rack as a whole saw (boards_busy_max). */
int dump_rack(Testbed *t, const char *dir, DfuError *error);
