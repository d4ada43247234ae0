/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <pthread.h>
#include <sqlite3.h>

#include "store.h"
#include "strv.h"

/* A query waits this long for a writer's lock before it gives up; the writer holds it for one batch. */
#define STORE_BUSY_TIMEOUT_MSEC 5000
/* Idle read connections kept for the next query; more may be open at once, they are closed after use. */
#define STORE_READ_POOL_SIZE 4
/* Writes applied in one transaction at most, so that a long queue does not hold the lock for long. */
#define STORE_BATCH_MAX 4096

typedef enum StoreStmtId {
        STORE_STMT_SUBMIT,
        STORE_STMT_START,
        STORE_STMT_LEAVE,
        STORE_STMT_END,
        STORE_STMT_END_SEQ_BUMP,
        STORE_STMT_JOB_ID_BUMP,
        STORE_STMT_RULE_ID_BUMP,
        STORE_STMT_RULE_ADD,
        STORE_STMT_RULE_REMOVE,
        STORE_STMT_RULE_BOARDS_REMOVE,
        STORE_STMT_RULE_BOARD_ADD,
        STORE_STMT_RULE_EXISTS,
        STORE_STMT_PRUNE,
        STORE_STMT_END_NOTES,
        STORE_STMT_RULE_TRUST,
        _STORE_STMT_MAX,
} StoreStmtId;

typedef enum StoreWriteKind {
        STORE_WRITE_SUBMIT,
        STORE_WRITE_START,
        STORE_WRITE_LEAVE,
        STORE_WRITE_END,
        STORE_WRITE_RULE_ADD,
        STORE_WRITE_RULE_REMOVE,
        STORE_WRITE_RULE_FLASHED,
        STORE_WRITE_PRUNE,
        STORE_WRITE_SEQUENCE_ADD,
        STORE_WRITE_SEQUENCE_REMOVE,
} StoreWriteKind;

/* One queued write; the strings are the store's own copies. */
typedef struct StoreWrite StoreWrite;
struct StoreWrite {
        StoreWriteKind kind;
        union {
                StoreJobSubmit submit;
                StoreJobStart start;
                StoreJobEnd end;
                StoreRule rule;
                struct {
                        uint32_t id;
                        uint64_t usec;
                } leave;
                struct {
                        uint32_t id;
                        char *key;
                } flashed;
                uint32_t rule_id;
                uint64_t prune_before;
                StoreSequence sequence;
                char *sequence_name;
        };
        /* A start that takes values: the sequences, and what was taken (or which one ran out). */
        char **sequences;
        StoreValue *values;
        size_t n_values;
        char *exhausted;
        StoreAllocatedFn allocated;
        StoreDoneFn done;
        void *userdata;
        int result;
        bool waited;   /* a thread blocks on it and frees it */
        bool finished; /* durable or failed */
        StoreWrite *next;
};

typedef struct StoreQueue {
        StoreWrite *head, *tail;
} StoreQueue;

struct Store {
        char *state_dir, *db_path;
        sd_event *event;
        sd_event_source *done_source;
        int done_fd; /* eventfd: the writer's signal that completions are due */

        /* The write connection: used by store_open() before the thread starts, then by the thread only. */
        sqlite3 *db;
        sqlite3_stmt *stmts[_STORE_STMT_MAX];

        pthread_mutex_t lock;
        pthread_cond_t cond; /* queue grew, or stop, or a waited write finished */
        StoreQueue queue, done;
        bool stop, thread_running;
        pthread_t thread;

        pthread_mutex_t read_lock;
        sqlite3 *read_pool[STORE_READ_POOL_SIZE];
        size_t n_read_pool;
};

/* store-schema.c */
/* Sets *ret_error to the formatted message, or to NULL when there is no memory for it. */
void store_set_error(char **ret_error, const char *fmt, ...) _printf_(2, 3);

int store_schema_migrate(sqlite3 *db, char **ret_error);
int store_db_open(const char *path, bool writer, sqlite3 **ret);
int store_errno(int sqlite_rc);
int store_exec(sqlite3 *db, const char *sql);

/* store-apply.c: one write against the write connection, inside the caller's transaction. */
int store_apply(Store *s, StoreWrite *w);
int store_apply_job_submit(Store *s, const StoreJobSubmit *j);
int store_apply_job_start(Store *s, const StoreJobStart *j);
int store_apply_job_leave(Store *s, uint32_t id, uint64_t leave_usec);
int store_apply_job_end(Store *s, const StoreJobEnd *j);
int store_apply_rule_add(Store *s, const StoreRule *r);
int store_apply_rule_flashed(Store *s, uint32_t id, const char *key);
/* Raises next_job_id past id. */
int store_apply_job_id_seen(Store *s, uint32_t id);
void store_stmts_finalize(Store *s);

/* store-sequence.c */
int store_apply_sequence_add(Store *s, const StoreSequence *q);
int store_apply_sequence_remove(Store *s, const char *name);
/* Takes one value of each sequence for job j; on -ENOSPC *ret_exhausted names the sequence. */
int store_apply_allocate(Store *s, const StoreJobStart *j, char *const *sequences, StoreValue **ret_values,
                         size_t *ret_n, char **ret_exhausted);
int store_apply_values_end(Store *s, uint32_t job_id, StoreValuesEnd how, uint64_t usec);
/* At start: values taken by jobs that did not end are used if the job had asked its board to leave
 * (all written and verified), else spoiled. */
int store_values_settle_interrupted(Store *s);
int store_load_sequences(Store *s, StoreState *state);
void store_values_free(StoreValue *v, size_t n);
/* Loads a history entry's values from a read connection. */
int store_history_values(sqlite3 *db, uint32_t job_id, char ***ret);

/* store-json.c */
char *store_strv_to_json(char *const *l);
int store_strv_from_json(const char *text, char ***ret);

/* store-writer.c */
int store_writer_start(Store *s);
void store_writer_stop(Store *s);
StoreWrite *store_write_free(StoreWrite *w);

/* store-history.c */
/* A read connection of the pool (or a new one), for a task thread; released back to the pool. */
int store_read_acquire(Store *s, sqlite3 **ret);
void store_read_release(Store *s, sqlite3 *db);
void store_read_pool_close(Store *s);

/* store-import.c: each runs in its own transaction and renames the file once it is committed. */
int store_import_jobs(Store *s, StoreState *st, char **ret_error);
int store_import_rules(Store *s, StoreState *st, char **ret_error);
