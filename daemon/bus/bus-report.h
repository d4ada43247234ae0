/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "plan.h"
#include "sanitize.h"

/*
 * A report's segments and a plan's lists go on the bus capped: an image of a million one-byte records
 * must not make a reply larger than the bus carries. The counts always say how many there are; the
 * whole report stays available offline (dfusctl inspect without a daemon).
 */
#define BUS_REPORT_SEGMENTS_MAX 256
/* A job's Report is shown for every job at once (GetManagedObjects): fewer entries each. */
#define BUS_JOB_REPORT_SEGMENTS_MAX 32

int bus_append_report(sd_bus_message *m, const SanitizeReport *report, size_t max);
int bus_append_plan(sd_bus_message *m, const Plan *plan);
