/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* macro.h first: GLib defines MIN and MAX only when they are not defined yet. */
#include "store.h"
#include "strv.h"

#include <glib.h>

/* A store on a fresh temporary directory, with its own event loop. */
typedef struct StoreFixture {
        char *dir;
        sd_event *event;
        Store *store;
        StoreState *state;
} StoreFixture;

/* Completions of asynchronous writes, in the order they ran. */
typedef struct DoneLog {
        int results[4096];
        uintptr_t tags[4096];
        size_t n;
} DoneLog;

typedef struct DoneEntry {
        DoneLog *log;
        uintptr_t tag;
} DoneEntry;

void fixture_init(StoreFixture *f);
/* Opens (or reopens) the store; asserts success. */
void fixture_open(StoreFixture *f);
void fixture_close(StoreFixture *f);
void fixture_done(StoreFixture *f);
char *fixture_path(StoreFixture *f, const char *name);

/* A StoreDoneFn that appends to the DoneLog given as userdata. */
void done_log(int result, void *userdata);
/* Runs the loop until log->n reaches n (fails the test after 10 s). */
void wait_done(StoreFixture *f, DoneLog *log, size_t n);

/* Writes an ended job through the store: what a synthetic history is made of. */
void end_job(StoreFixture *f, DoneLog *log, uint32_t id, const char *result, const char *port,
             const char *serial, const char *image, uint64_t end_usec);
void history_query(StoreFixture *f, const StoreHistoryFilter *flt, StoreHistory **ret);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(StoreHistory, store_history_free)
