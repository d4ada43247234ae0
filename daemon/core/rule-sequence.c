/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "journal.h"
#include "log.h"
#include "manager.h"
#include "rule.h"
#include "sequence.h"

/*
 * A rule and the sequences its patches draw from. A rule whose sequence ran out would start a job on
 * every board that attaches, each failing the same way: it stops instead, and says which sequence it
 * waits for.
 */

void rule_stop_for_sequence(Rule *r, const char *sequence) {
        _cleanup_free_ char *why = NULL;

        if (r->stopped)
                return;
        /* Gone: removed while the rule was stopped for it, then dfusd restarted. */
        if (asprintf(&why,
                     sequence_find(r->manager, sequence) ? "Sequence %s is exhausted."
                                                         : "Sequence %s no longer exists; add it again.",
                     sequence) < 0)
                return (void)log_oom();
        r->stopped_sequence = strdup(sequence);
        if (!r->stopped_sequence)
                return (void)log_oom();
        rule_stop(r, why);
}

bool rule_waits_for_sequence(const Rule *r, const char *sequence) {
        return r->stopped_sequence && streq(r->stopped_sequence, sequence);
}

/* The first sequence the rule draws from that has no value left or is gone; NULL when all have some. */
static const char *rule_empty_sequence(Rule *r, char **sequences) {
        for (char **s = sequences; s && *s; s++) {
                Sequence *q = sequence_find(r->manager, *s);
                if (!q || sequence_left(q) == 0)
                        return *s;
        }
        return NULL;
}

void rule_check_sequences(Manager *m) {
        LIST_FOREACH (rules, rule, m->rules) {
                _cleanup_strv_free_ char **sequences = NULL;
                const char *empty;

                if (rule->stopped || !rule->opts.patches)
                        continue;
                if (job_options_sequences(&rule->opts, &sequences) < 0) {
                        log_oom();
                        continue;
                }
                empty = rule_empty_sequence(rule, sequences);
                if (empty)
                        rule_stop_for_sequence(rule, empty);
        }
}

static void rule_resume(Rule *r) {
        log_info("Rule %" PRIu32 " resumed: sequence %s has values again.", r->id, r->stopped_sequence);
        journal_rule_resumed(r->id, r->stopped_sequence);
        r->stopped = mfree(r->stopped);
        r->stopped_sequence = mfree(r->stopped_sequence);
        manager_emit_rule_changed(r->manager, r, (const char *const[]){"Stopped", NULL});
}

void rule_sequence_refilled(Manager *m, const char *sequence) {
        Sequence *q = sequence_find(m, sequence);

        if (!q || sequence_left(q) == 0)
                return;
        LIST_FOREACH (rules, rule, m->rules) {
                _cleanup_strv_free_ char **sequences = NULL;

                if (!rule_waits_for_sequence(rule, sequence))
                        continue;
                /* Another of its sequences may be empty too: it then waits for that one. */
                if (job_options_sequences(&rule->opts, &sequences) < 0) {
                        log_oom();
                        continue;
                }
                const char *empty = rule_empty_sequence(rule, sequences);
                rule_resume(rule);
                if (empty) {
                        rule_stop_for_sequence(rule, empty);
                        continue;
                }
                LIST_FOREACH (devices, d, m->devices)
                        rule_offer_board(rule, d);
        }
}
