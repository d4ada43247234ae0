/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The verbs that talk to dfusd over D-Bus (one file per group), for the table in dfusctl.c. */

#include "dfusctl.h"

int verb_devices(int argc, char *argv[], const DfusctlContext *ctx);
void verb_devices_help(void);
int verb_flash(int argc, char *argv[], const DfusctlContext *ctx);
void verb_flash_help(void);
int verb_jobs(int argc, char *argv[], const DfusctlContext *ctx);
void verb_jobs_help(void);
int verb_job(int argc, char *argv[], const DfusctlContext *ctx);
void verb_job_help(void);
int verb_cancel(int argc, char *argv[], const DfusctlContext *ctx);
void verb_cancel_help(void);
int verb_watch(int argc, char *argv[], const DfusctlContext *ctx);
void verb_watch_help(void);
int verb_rule(int argc, char *argv[], const DfusctlContext *ctx);
void verb_rule_help(void);
int verb_history(int argc, char *argv[], const DfusctlContext *ctx);
void verb_history_help(void);
int verb_sequence(int argc, char *argv[], const DfusctlContext *ctx);
void verb_sequence_help(void);
