/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "store.h"

typedef struct Manager Manager;

/* Runs on the loop with the page (owned by the callee) or a negative errno. */
typedef void (*HistoryDoneFn)(Manager *m, int result, StoreHistory *page, void *userdata);

/* Queries the job history on a thread: the store's indexes answer, the loop only moves the result.
 * The filter's strings are copied. */
int history_query(Manager *m, const StoreHistoryFilter *filter, HistoryDoneFn done, void *userdata);
