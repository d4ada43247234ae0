/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "macro.h"

/*
 * The job store: one SQLite database, STATE_DIRECTORY/dfusd.db, in WAL mode. Every write goes through
 * one writer thread that commits with synchronous=FULL; a write's completion runs on the event loop only
 * once its transaction is durable, so a caller hears of nothing that a crash could lose. Queries open
 * their own read connections and may run on any thread. Start-up reads only the unfinished jobs and the
 * rules: its cost does not depend on the length of the history.
 *
 * Strings in the structs below are borrowed by the store for the duration of the call (writes copy
 * them); the structs the store returns are owned by the caller and freed with the matching _free().
 */

typedef struct Store Store;

/* Runs on the event loop once the write is durable (result 0) or has failed (negative errno). */
typedef void (*StoreDoneFn)(int result, void *userdata);

/* The largest page GetHistory returns, and the default. */
#define STORE_HISTORY_LIMIT_MAX     1000u
#define STORE_HISTORY_LIMIT_DEFAULT 100u

typedef struct StoreJobSubmit {
        uint32_t id;
        uint32_t owner;
        uint64_t submit_usec;
        const char *target;        /* "port=1-1", "any", ...; may be NULL */
        const char *options_json;  /* the job's options, JSON text */
        char *const *image_hashes; /* NULL-terminated SHA-256 hex of each spooled image, in order */
        uint32_t rule_id;          /* 0: none */
} StoreJobSubmit;

typedef struct StoreJobStart {
        uint32_t id;
        uint64_t start_usec;
        const char *port, *serial, *station; /* may be NULL */
} StoreJobStart;

/* How the values a job took end, settled with its end record. */
typedef enum StoreValuesEnd {
        STORE_VALUES_SPOILED,  /* the job failed after writing may have begun: never handed out again */
        STORE_VALUES_USED,     /* the job wrote and verified them */
        STORE_VALUES_RETURNED, /* nothing was written: they go back to the front of their sequence */
} StoreValuesEnd;

typedef struct StoreJobEnd {
        uint32_t id;
        const char *result; /* "done", "failed" or "cancelled" */
        const char *error, *port, *serial, *station, *target, *image_sha256; /* may be NULL */
        uint64_t submit_usec, start_usec, end_usec;
        uint64_t bytes, dropped_segments;
        bool interrupted;
        uint32_t rule_id;
        const char *trust, *protection; /* may be NULL */
        StoreValuesEnd values_end;      /* for the values the job took, if any */
} StoreJobEnd;

/*
 * Sequences: named, persistent sources of per-board values. A counter hands out start, start + step,
 * ... up to last (at most INT64_MAX: SQLite's integers are signed); a list hands out its lines in
 * order. Values a job returned are handed out again first, lowest first. Every value taken is an
 * allocation row, and a unique index makes sure no value is ever taken twice unless it was returned.
 */
typedef enum StoreSequenceKind {
        STORE_SEQUENCE_COUNTER,
        STORE_SEQUENCE_LIST,
} StoreSequenceKind;

#define STORE_SEQUENCE_VALUE_MAX INT64_MAX

typedef struct StoreSequence {
        char *name;
        StoreSequenceKind kind;
        uint64_t start, step, last; /* counter; last: STORE_SEQUENCE_VALUE_MAX when unbounded */
        bool has_last;
        uint32_t owner;
        uint64_t created_usec;
        char **values; /* a list's lines: given to store_sequence_add(), not loaded back */
        /* State, as loaded at start: */
        uint64_t next;     /* counter: the next new value; list: the index of the next new line */
        uint64_t n_values; /* list: how many lines */
        bool exhausted;    /* no new value is left (returned ones may be) */
        uint64_t taken, used, spoiled, returned;
        uint64_t pending; /* returned and not handed out again */
} StoreSequence;

/* A value taken for a job: which sequence, the value as text, and its place (counter value or line). */
typedef struct StoreValue {
        char *sequence, *value;
        uint64_t index;
        bool reissued; /* a returned value handed out again */
} StoreValue;

/* Runs on the loop once the start record and the values are durable; values are borrowed for the call.
 * -ENOSPC: the sequence named by exhausted has no value left, and nothing was taken or recorded. */
typedef void (*StoreAllocatedFn)(int result, const StoreValue *values, size_t n_values,
                                 const char *exhausted, void *userdata);

/* A job that has a submit record and no end record: it was queued or running when the daemon stopped. */
typedef struct StoreUnfinished {
        uint32_t id, owner, rule_id;
        uint64_t submit_usec;
        char *target;       /* NULL if none */
        char *options_json; /* never NULL ("{}" at least) */
        char **image_hashes;
        bool started; /* it had started on a board */
        bool leave;   /* it had recorded its leave request: the board holds the image */
} StoreUnfinished;

typedef struct StoreRule {
        uint32_t id, owner;
        char *options_json;
        char **image_hashes;
        char **flashed; /* "port serial" keys of the boards flashed under it */
        char *trust;    /* what accepted its images when it was added; NULL: trust was off */
} StoreRule;

/* What start-up needs: returned by store_open(). */
typedef struct StoreState {
        StoreUnfinished *jobs; /* by id, ascending */
        size_t n_jobs;
        StoreRule *rules; /* by id, ascending */
        size_t n_rules;
        StoreSequence *sequences; /* by name */
        size_t n_sequences;
        uint32_t next_job_id, next_rule_id; /* one past the largest id ever recorded */
        /* Set when an old jobs.jsonl / rules.json was imported at this start: how much, and what was
         * skipped (a torn last line); the caller logs it. */
        uint64_t imported_jobs, imported_rules, import_skipped_lines;
} StoreState;

typedef struct StoreHistoryFilter {
        uint64_t since, until; /* end time in usec (realtime), inclusive; 0: unbounded */
        const char *port, *serial, *image, *result; /* exact match; NULL: any. image: a SHA-256 summary */
        const char *value; /* jobs that took this value (of any sequence) and did not return it */
        uint64_t before;   /* cursor: only entries older than this one; 0: newest */
        uint32_t limit;    /* 0: STORE_HISTORY_LIMIT_DEFAULT; capped at STORE_HISTORY_LIMIT_MAX */
} StoreHistoryFilter;

typedef struct StoreHistoryEntry {
        uint64_t cursor; /* position in the history: larger is newer; pass as `before` to page back */
        uint32_t id, rule_id;
        char *result, *error, *port, *serial, *station, *target, *image_sha256; /* NULL when not recorded */
        uint64_t submit_usec, start_usec, end_usec, duration_usec, bytes, dropped_segments;
        bool interrupted;
        char *trust, *protection; /* NULL when not recorded */
        char *origin;             /* who asked (Submit's "origin"); NULL when nobody said */
        char **values;            /* pairs: sequence, value, ...: what the job took and did not return */
} StoreHistoryEntry;

typedef struct StoreHistory {
        StoreHistoryEntry *entries; /* oldest first */
        size_t n;
        bool more; /* older entries match the filter too */
} StoreHistory;

/*
 * Opens (creating or migrating) STATE_DIR/dfusd.db, imports STATE_DIR/jobs.jsonl and rules.json once if
 * they exist (then renames them to jobs.jsonl.imported and rules.json.imported), loads the state and
 * starts the writer thread. Completions are dispatched on event. Blocks: call before serving requests.
 * On failure returns a negative errno and, in *ret_error (may be NULL), a message naming the file.
 */
int store_open(const char *state_dir, sd_event *event, Store **ret, StoreState **ret_state,
               char **ret_error);
/* Writes out what is queued, runs the completions that are due, stops the thread, closes the database. */
Store *store_close(Store *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Store *, store_close);
StoreState *store_state_free(StoreState *st);
DEFINE_TRIVIAL_CLEANUP_FUNC(StoreState *, store_state_free);

/* Asynchronous writes, in the order they are called; done may be NULL. From the event loop thread. */
int store_job_submit(Store *s, const StoreJobSubmit *j, StoreDoneFn done, void *userdata);
int store_job_start(Store *s, const StoreJobStart *j, StoreDoneFn done, void *userdata);
/* Records the start and takes the next value of each sequence (each name once) in one transaction. */
int store_job_start_allocate(Store *s, const StoreJobStart *j, char *const *sequences, StoreAllocatedFn done,
                             void *userdata);
int store_job_end(Store *s, const StoreJobEnd *j, StoreDoneFn done, void *userdata);
int store_rule_add(Store *s, const StoreRule *r, StoreDoneFn done, void *userdata);
int store_rule_remove(Store *s, uint32_t id, StoreDoneFn done, void *userdata);
int store_rule_flashed(Store *s, uint32_t id, const char *board_key, StoreDoneFn done, void *userdata);
/* -EEXIST when the name is taken; -ENOENT on removal of an unknown one. Allocations outlive removal. */
int store_sequence_add(Store *s, const StoreSequence *q, StoreDoneFn done, void *userdata);
int store_sequence_remove(Store *s, const char *name, StoreDoneFn done, void *userdata);
void store_sequence_done(StoreSequence *q);
/* Deletes ended jobs whose end time is before before_usec; done gets how many (>= 0) or a negative errno. */
int store_prune(Store *s, uint64_t before_usec, StoreDoneFn done, void *userdata);

/* From any other thread: returns once the leave record is durable (the board is asked to leave only then).
 */
int store_job_leave(Store *s, uint32_t id, uint64_t leave_usec);

/* Blocking query on a read connection of its own: call it from a task thread, never from the loop. */
int store_history_query(Store *s, const StoreHistoryFilter *f, StoreHistory **ret);
StoreHistory *store_history_free(StoreHistory *h);
/* A spoiled value: it may have reached a board that failed, so it is never handed out again. */
typedef struct StoreSpoiled {
        char *value, *port, *serial; /* port and serial may be NULL */
        uint32_t job_id;
        uint64_t end_usec;
} StoreSpoiled;
#define STORE_SPOILED_LIMIT_MAX 1000u
/* The sequence's spoiled values, lowest first, at most limit (capped at STORE_SPOILED_LIMIT_MAX):
 * -ENOENT for no such sequence. Blocking, on a read connection: from a task thread. */
int store_sequence_spoiled(Store *s, const char *name, uint32_t limit, StoreSpoiled **ret, size_t *ret_n);
void store_spoiled_free(StoreSpoiled *v, size_t n);
/* The value the next job would take from the sequence, taking nothing: -ENOENT for no such sequence,
 * -ENOSPC when it has none left. Blocking, on a read connection: from a task thread. */
int store_sequence_peek(Store *s, const char *name, char **ret);
DEFINE_TRIVIAL_CLEANUP_FUNC(StoreHistory *, store_history_free);
