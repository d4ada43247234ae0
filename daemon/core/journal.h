/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

typedef struct Device Device;
typedef struct Job Job;

/* One structured journal entry per finished job, with a MESSAGE_ID of its own (see dfusd(8)). */
void journal_job_finished(const Job *j, uint64_t dropped_segments);
/* A board's bootloader was read and published, or it went away: each with a MESSAGE_ID and PORT=. */
void journal_board_attached(const Device *d);
void journal_board_detached(const Device *d);
/* A rule stopped: its images are no longer trusted, or a sequence it draws from ran out. */
void journal_rule_stopped(uint32_t rule_id, const char *why);
/* A rule stopped for a sequence resumed: the sequence has values again. */
void journal_rule_resumed(uint32_t rule_id, const char *sequence);
/* A job changed a board's protection or option bytes (kind: "read-unprotect", "lock", "option-bytes"). */
void journal_protection_changed(const Job *j, const char *kind, const char *what);
