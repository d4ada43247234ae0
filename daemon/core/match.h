/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "device.h"
#include "job-options.h"

/*
 * The one decision of whether a job or a rule is meant for a board. Port, serial and station are
 * fnmatch(3) globs (a plain string matches only itself), the part name is compared without regard to
 * case. With no field set, a spec matches every board only if it says "any".
 */
typedef struct MatchSpec {
        const char *port, *serial, *station, *part;
        bool any;
        /* A serial that several boards report names none of them (ROM serials collide). */
        bool unique_serial;
} MatchSpec;

bool match_board(const MatchSpec *spec, const Device *d);

/* The spec of a job's target, and of a rule's match-* options. */
void match_spec_from_job_options(const JobOptions *o, MatchSpec *ret);
void match_spec_from_rule_options(const JobOptions *o, MatchSpec *ret);

/* Checks that a glob is well-formed (an unclosed '[' is not); 0 or -EINVAL. */
int match_glob_valid(const char *pattern);
