/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus-report.h"
#include "bus-dict.h"
#include "macro.h"

int bus_append_report(sd_bus_message *m, const SanitizeReport *report, size_t max) {
        int r = sd_bus_message_open_container(m, 'a', "a{sv}");
        if (r < 0)
                return r;
        size_t n = report ? report->n_verdicts : 0, n_other = 0, keep_budget, kept = 0, shown = 0;

        /* Bounded whatever the image, in address order; what was dropped or rejected is shown first of
         * all, since that is what the caller must hear of, then as many kept segments as fit. */
        for (size_t i = 0; i < n; i++)
                n_other += report->verdicts[i].verdict != VERDICT_KEEP;
        keep_budget = max - MIN(n_other, max);
        for (size_t i = 0; i < n && shown < max; i++) {
                const SegmentVerdict *v = &report->verdicts[i];
                if (v->verdict == VERDICT_KEEP && kept++ >= keep_budget)
                        continue;
                shown++;
                r = sd_bus_message_append(m, "a{sv}", 6, "address", "u", v->address, "size", "u", v->size,
                                          "verdict", "s", verdict_to_string(v->verdict), "kind", "s",
                                          address_kind_to_string(v->kind), "source", "s",
                                          v->source ? v->source : "", "reason", "s",
                                          v->reason ? v->reason : "");
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

/* The entry {key: a(uu)} for (address, size) pairs, appended between open and close. */
static int open_range_list(sd_bus_message *m, const char *key) {
        int r = bus_message_open_dict_entry(m, key, "a(uu)");
        return r < 0 ? r : sd_bus_message_open_container(m, 'a', "(uu)");
}

static int close_range_list(sd_bus_message *m) {
        int r = sd_bus_message_close_container(m);
        return r < 0 ? r : bus_message_close_dict_entry(m);
}

int bus_append_plan(sd_bus_message *m, const Plan *plan) {
        int r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}", "transfer-size", "q",
                                  plan->transfer_size, "mass-erase", "b", plan->mass_erase, "verify", "b",
                                  plan->verify, "leave", "b", plan->leave, "erases", "u",
                                  (uint32_t)plan->n_erases, "runs", "u", (uint32_t)plan->n_runs,
                                  "bytes-total", "t", plan->bytes_total, "blocks-total", "t",
                                  plan->blocks_total, "estimate-ms", "t", plan->estimate_ms);
        if (r < 0)
                return r;
        r = open_range_list(m, "erase-list");
        for (size_t i = 0; r >= 0 && i < MIN(plan->n_erases, (size_t)BUS_REPORT_SEGMENTS_MAX); i++)
                r = sd_bus_message_append(m, "(uu)", plan->erases[i].address, plan->erases[i].size);
        if (r >= 0)
                r = close_range_list(m);
        if (r < 0)
                return r;
        r = open_range_list(m, "run-list");
        for (size_t i = 0; r >= 0 && i < MIN(plan->n_runs, (size_t)BUS_REPORT_SEGMENTS_MAX); i++)
                r = sd_bus_message_append(m, "(uu)", plan->runs[i].address, plan->runs[i].size);
        if (r >= 0)
                r = close_range_list(m);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}
