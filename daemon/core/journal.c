/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <systemd/sd-journal.h>

#include "job.h"
#include "journal.h"
#include "log.h"

#define DFUSD_MESSAGE_JOB_FINISHED "MESSAGE_ID=5b3f0c2e9a4d4c51b8e1d7a6f2c90e47"
#define DFUSD_MESSAGE_RULE_STOPPED "MESSAGE_ID=3e9b7c51d2a84f06b1c4e8a95d7f2036"
#define DFUSD_MESSAGE_PROTECTION   "MESSAGE_ID=8c1d4f7a2e6b4b0d9a35c7e1f04b6d29"

void journal_job_finished(const Job *j, uint64_t dropped_segments) {
        uint64_t duration = j->start_usec && j->end_usec > j->start_usec ? j->end_usec - j->start_usec : 0;
        int r;

        r = sd_journal_send(
                "MESSAGE=Job %" PRIu32 " on port %s %s%s%s", j->id, j->port_path ? j->port_path : "-",
                job_state_to_string(j->state), j->error ? ": " : ".", j->error ? j->error : "",
                DFUSD_MESSAGE_JOB_FINISHED, "PRIORITY=%d", j->state == JOB_DONE ? 6 : 4,
                "DFUSD_JOB=%" PRIu32, j->id, "PORT=%s", j->port_path ? j->port_path : "", "STATION=%s",
                j->station ? j->station : "", "SERIAL=%s", j->serial ? j->serial : "", "IMAGE_SHA256=%s",
                j->image_sha256 ? j->image_sha256 : "", "TRUST=%s", j->trust ? j->trust : "",
                "PROTECTION=%s", j->protection_done ? j->protection_done : "", "RESULT=%s",
                job_state_to_string(j->state), "DURATION_USEC=%" PRIu64, duration, "BYTES=%" PRIu64,
                j->stats.bytes_written, "DROPPED_SEGMENTS=%" PRIu64, dropped_segments, NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to write to the journal: %m");
}

void journal_protection_changed(const Job *j, const char *kind, const char *what) {
        int r = sd_journal_send("MESSAGE=Job %" PRIu32 " on port %s: %s.", j->id,
                                j->port_path ? j->port_path : "-", what, DFUSD_MESSAGE_PROTECTION,
                                "PRIORITY=5", "DFUSD_JOB=%" PRIu32, j->id, "PORT=%s",
                                j->port_path ? j->port_path : "", "SERIAL=%s", j->serial ? j->serial : "",
                                "PROTECTION_CHANGE=%s", kind, NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to write to the journal: %m");
}

void journal_rule_stopped(uint32_t rule_id, const char *why) {
        int r = sd_journal_send("MESSAGE=Rule %" PRIu32 " stopped: %s", rule_id, why,
                                DFUSD_MESSAGE_RULE_STOPPED, "PRIORITY=4", "DFUSD_RULE=%" PRIu32, rule_id,
                                NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to write to the journal: %m");
        log_warning("Rule %" PRIu32 " stopped: %s", rule_id, why);
}
