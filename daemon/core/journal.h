/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

typedef struct Job Job;

/* One structured journal entry per finished job, with a MESSAGE_ID of its own (see dfusd(8)). */
void journal_job_finished(const Job *j, uint64_t dropped_segments);
