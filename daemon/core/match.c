/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fnmatch.h>
#include <string.h>
#include <strings.h>

#include "match.h"

static bool glob_matches(const char *pattern, const char *value) {
        return value && fnmatch(pattern, value, 0) == 0;
}

bool match_board(const MatchSpec *spec, const Device *d) {
        bool named = spec->port || spec->serial || spec->station || spec->part;

        if (!named)
                return spec->any;
        if (spec->port && !glob_matches(spec->port, d->port_path))
                return false;
        if (spec->serial) {
                if (!d->serial || !*d->serial || !glob_matches(spec->serial, d->serial))
                        return false;
                if (spec->unique_serial && d->serial_duplicated)
                        return false;
        }
        if (spec->station && !glob_matches(spec->station, d->station))
                return false;
        if (spec->part && (!d->part || strcasecmp(spec->part, d->part->name) != 0))
                return false;
        return true;
}

void match_spec_from_job_options(const JobOptions *o, MatchSpec *ret) {
        *ret = (MatchSpec){
                .port = o->port,
                .serial = o->serial,
                .station = o->station,
                /* With a named board the part only serves to check the image while none is attached. */
                .part = o->any ? o->part : NULL,
                .any = o->any,
                .unique_serial = true,
        };
}

void match_spec_from_rule_options(const JobOptions *o, MatchSpec *ret) {
        *ret = (MatchSpec){
                .port = o->match_port,
                .serial = o->match_serial,
                .station = o->match_station,
                .part = o->match_part,
                .any = true,
        };
}

int match_glob_valid(const char *pattern) {
        /* fnmatch() takes an unclosed '[' literally; a user who typed one meant a set. */
        for (const char *p = pattern; *p; p++) {
                if (*p == '\\') {
                        if (!*++p)
                                return -EINVAL;
                        continue;
                }
                if (*p != '[')
                        continue;
                const char *q = p + 1;
                if (*q == '!' || *q == '^')
                        q++;
                if (*q == ']')
                        q++;
                while (*q && *q != ']')
                        q++;
                if (!*q)
                        return -EINVAL;
                p = q;
        }
        return 0;
}
