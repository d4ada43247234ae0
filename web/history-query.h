/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The filters of GET /api/v1/history as query arguments: since= and until= (microseconds since the
 * epoch, or "2026-01-05T10:11:12Z"), before= (a cursor), limit=, result=, port=, serial=, image=.
 * No bus and no connection here: the route hands the arguments over, and so does the fuzz target.
 */

#include <stdbool.h>
#include <stdint.h>

typedef struct HistoryQuery {
        uint64_t since, until, before;
        uint32_t limit;
        const char *port, *serial, *result; /* borrowed from the lookup */
        char *image;
} HistoryQuery;

/* A query argument by name, or NULL. */
typedef const char *(*QueryLookupFn)(void *userdata, const char *name);

/* Whether KEY is an argument the history takes (its filters, format= and access_token=). */
bool history_query_arg_known(const char *key);
/* Fills q; on bad input returns -EINVAL with *what naming the argument. */
int history_query_parse(HistoryQuery *q, QueryLookupFn get, void *userdata, const char **what);
void history_query_done(HistoryQuery *q);
