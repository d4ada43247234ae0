/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "device.h"
#include "job.h"
#include "journal.h"
#include "log.h"
#include "parts.h"

#define DFUSD_MESSAGE_JOB_FINISHED   "MESSAGE_ID=5b3f0c2e9a4d4c51b8e1d7a6f2c90e47"
#define DFUSD_MESSAGE_BOARD_ATTACHED "MESSAGE_ID=9f82ad320a83400b8e171a564093425a"
#define DFUSD_MESSAGE_BOARD_DETACHED "MESSAGE_ID=cb77bf2c0cf14d7f8244a6a24e26c8d4"
#define DFUSD_MESSAGE_RULE_STOPPED   "MESSAGE_ID=3e9b7c51d2a84f06b1c4e8a95d7f2036"
#define DFUSD_MESSAGE_PROTECTION     "MESSAGE_ID=8c1d4f7a2e6b4b0d9a35c7e1f04b6d29"

/* Under the unit, stderr is a stream to the journal (systemd names it in $JOURNAL_STREAM): the
 * structured entry is then the only one. Elsewhere (by hand, in tests) the line goes to stderr too. */
static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void journal_job_finished(const Job *j, uint64_t dropped_segments) {
        uint64_t duration = j->start_usec && j->end_usec > j->start_usec ? j->end_usec - j->start_usec : 0;
        char raw[2048], message[4 * sizeof(raw)];
        int r;

        /* The error can quote a caller's strings: MESSAGE= is escaped like every log line, and the
         * strings themselves go in fields of their own, where no value can start another field. */
        (void)snprintf(raw, sizeof(raw), "Job %" PRIu32 " on port %s %s%s%s", j->id,
                       j->port_path ? j->port_path : "-", job_state_to_string(j->state),
                       j->error ? ": " : ".", j->error ? j->error : "");
        (void)log_escape(raw, message, sizeof(message));

        r = sd_journal_send("MESSAGE=%s", message, DFUSD_MESSAGE_JOB_FINISHED, "PRIORITY=%d",
                            j->state == JOB_DONE ? 6 : 4, "DFUSD_JOB=%" PRIu32, j->id, "PORT=%s",
                            j->port_path ? j->port_path : "", "STATION=%s", j->station ? j->station : "",
                            "SERIAL=%s", j->serial ? j->serial : "", "IMAGE_SHA256=%s",
                            j->image_sha256 ? j->image_sha256 : "", "TRUST=%s", j->trust ? j->trust : "",
                            "PROTECTION=%s", j->protection_done ? j->protection_done : "", "RESULT=%s",
                            job_state_to_string(j->state), "DURATION_USEC=%" PRIu64, duration,
                            "BYTES=%" PRIu64, j->stats.bytes_written, "DROPPED_SEGMENTS=%" PRIu64,
                            dropped_segments, NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to write to the journal: %m");
}

void journal_board_attached(const Device *d) {
        const char *part = d->part ? d->part->name : "unknown", *serial = d->serial ? d->serial : "",
                   *protection = d->protection == DFUSE_PROTECTION_READ ? ", read-protected" : "";
        int r;

        if (!stderr_is_journal())
                log_info("Board attached on port %s: %04x:%04x serial '%s', part %s%s.", d->port_path,
                         d->vid, d->pid, serial, part, protection);
        r = sd_journal_send(
                "MESSAGE=Board attached on port %s: %04x:%04x serial '%s', part %s%s.", d->port_path, d->vid,
                d->pid, serial, part, protection, DFUSD_MESSAGE_BOARD_ATTACHED, "PRIORITY=6", "PORT=%s",
                d->port_path, "STATION=%s", d->station ? d->station : "", "SERIAL=%s", serial, "PART=%s",
                d->part ? d->part->name : "", "VENDOR_ID=%04x", d->vid, "PRODUCT_ID=%04x", d->pid, NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to write to the journal: %m");
}

void journal_board_detached(const Device *d) {
        int r;

        if (!stderr_is_journal())
                log_info("Board detached from port %s.", d->port_path);
        r = sd_journal_send("MESSAGE=Board detached from port %s.", d->port_path,
                            DFUSD_MESSAGE_BOARD_DETACHED, "PRIORITY=6", "PORT=%s", d->port_path,
                            "STATION=%s", d->station ? d->station : "", "SERIAL=%s",
                            d->serial ? d->serial : "", NULL);
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

void journal_rule_resumed(uint32_t rule_id, const char *sequence) {
        int r = sd_journal_send("MESSAGE=Rule %" PRIu32 " resumed: sequence %s has values again.", rule_id,
                                sequence, "PRIORITY=5", "DFUSD_RULE=%" PRIu32, rule_id, NULL);
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
