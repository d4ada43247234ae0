/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store-internal.h"

/*
 * Sequences and allocations as SQL. Allocation runs inside the writer's transaction together with the
 * job's start record: either both are durable or neither is. Statements are prepared per call: a job
 * starts at most a few times a second and a USB transfer costs more than a prepare.
 */

void store_sequence_done(StoreSequence *q) {
        if (!q)
                return;
        free(q->name);
        strv_free(q->values);
        *q = (StoreSequence){};
}

void store_values_free(StoreValue *v, size_t n) {
        FOREACH_ARRAY (i, v, n) {
                free(i->sequence);
                free(i->value);
        }
        free(v);
}

static void finalizep(sqlite3_stmt **st) {
        sqlite3_finalize(*st);
}
#define _cleanup_stmt_ _cleanup_(finalizep)

static sqlite3_int64 i64(uint64_t v) {
        return v > INT64_MAX ? INT64_MAX : (sqlite3_int64)v;
}

static uint64_t column_u64(sqlite3_stmt *st, int i) {
        sqlite3_int64 v = sqlite3_column_int64(st, i);
        return v < 0 ? 0 : (uint64_t)v;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret) {
        return store_errno(sqlite3_prepare_v2(db, sql, -1, ret, NULL));
}

/* Steps once: 1 for a row, 0 when done, a negative errno on failure. */
static int step(sqlite3_stmt *st) {
        int r = sqlite3_step(st);
        return r == SQLITE_ROW ? 1 : r == SQLITE_DONE ? 0 : store_errno(r);
}

int store_apply_sequence_add(Store *s, const StoreSequence *q) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL, *line = NULL;
        sqlite3_int64 id;
        int r;

        r = prepare(s->db,
                    "INSERT INTO sequences (name, kind, start, step, last, next, count, exhausted, owner, "
                    "created) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    &st);
        if (r < 0)
                return r;
        bool list = q->kind == STORE_SEQUENCE_LIST;
        size_t n = strv_length(q->values);
        (void)sqlite3_bind_text(st, 1, q->name, -1, SQLITE_STATIC);
        (void)sqlite3_bind_text(st, 2, list ? "list" : "counter", -1, SQLITE_STATIC);
        (void)sqlite3_bind_int64(st, 3, i64(q->start));
        (void)sqlite3_bind_int64(st, 4, i64(q->step));
        if (q->has_last)
                (void)sqlite3_bind_int64(st, 5, i64(q->last));
        (void)sqlite3_bind_int64(st, 6, list ? 0 : i64(q->start));
        (void)sqlite3_bind_int64(st, 7, (sqlite3_int64)n);
        (void)sqlite3_bind_int(st, 8, list ? n == 0 : q->has_last && q->start > q->last);
        (void)sqlite3_bind_int64(st, 9, q->owner);
        (void)sqlite3_bind_int64(st, 10, i64(q->created_usec));
        r = step(st);
        if (r < 0)
                return r;
        id = sqlite3_last_insert_rowid(s->db);
        if (!list)
                return 0;
        r = prepare(s->db, "INSERT INTO sequence_values (seq_id, idx, value) VALUES (?1, ?2, ?3)", &line);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                (void)sqlite3_reset(line);
                (void)sqlite3_bind_int64(line, 1, id);
                (void)sqlite3_bind_int64(line, 2, (sqlite3_int64)i);
                (void)sqlite3_bind_text(line, 3, q->values[i], -1, SQLITE_STATIC);
                r = step(line);
        }
        return r < 0 ? r : 0;
}

/* Runs one statement whose only parameter is a sequence's name. */
static int exec_for_name(Store *s, const char *sql, const char *name) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s->db, sql, &st);

        if (r < 0)
                return r;
        (void)sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        r = step(st);
        return r < 0 ? r : 0;
}

int store_apply_sequence_remove(Store *s, const char *name) {
        int r;

        /* The lines go with it; the allocations stay: they are the record of who got what. */
        r = exec_for_name(
                s, "DELETE FROM sequence_values WHERE seq_id = (SELECT id FROM sequences WHERE name = ?1)",
                name);
        if (r >= 0)
                r = exec_for_name(s, "DELETE FROM sequences WHERE name = ?1", name);
        if (r < 0)
                return r;
        return sqlite3_changes(s->db) > 0 ? 0 : -ENOENT;
}

typedef struct SeqRow {
        sqlite3_int64 id;
        bool list;
        uint64_t step, last, next, count;
        bool has_last, exhausted;
} SeqRow;

static int seq_row(sqlite3 *db, const char *name, SeqRow *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = prepare(db, "SELECT id, kind, step, last, next, count, exhausted FROM sequences WHERE name = ?1",
                    &st);
        if (r < 0)
                return r;
        (void)sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        r = step(st);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        *ret = (SeqRow){
                .id = sqlite3_column_int64(st, 0),
                .list = streq((const char *)sqlite3_column_text(st, 1), "list"),
                .step = column_u64(st, 2),
                .has_last = sqlite3_column_type(st, 3) != SQLITE_NULL,
                .last = column_u64(st, 3),
                .next = column_u64(st, 4),
                .count = column_u64(st, 5),
                .exhausted = sqlite3_column_int(st, 6) != 0,
        };
        return 0;
}

/* The lowest returned value not handed out again, into v (1), or none (0); *ret_id is its row. */
static int find_returned(sqlite3 *db, const SeqRow *q, StoreValue *v, sqlite3_int64 *ret_id) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = prepare(db,
                    "SELECT id, idx, value FROM allocations WHERE seq_id = ?1 AND state = 'returned' "
                    "AND reissued = 0 ORDER BY idx LIMIT 1",
                    &st);
        if (r < 0)
                return r;
        (void)sqlite3_bind_int64(st, 1, q->id);
        r = step(st);
        if (r <= 0)
                return r;
        v->index = column_u64(st, 1);
        v->value = strdup((const char *)sqlite3_column_text(st, 2));
        v->reissued = true;
        *ret_id = sqlite3_column_int64(st, 0);
        return v->value ? 1 : -ENOMEM;
}

/* A returned value, lowest first: handed out again before any new one. */
static int take_returned(Store *s, const SeqRow *q, StoreValue *v) {
        _cleanup_stmt_ sqlite3_stmt *mark = NULL;
        sqlite3_int64 id;
        int r;

        r = find_returned(s->db, q, v, &id);
        if (r <= 0)
                return r;
        r = prepare(s->db, "UPDATE allocations SET reissued = 1 WHERE id = ?1", &mark);
        if (r < 0)
                return r;
        (void)sqlite3_bind_int64(mark, 1, id);
        r = step(mark);
        return r < 0 ? r : 1;
}

/* Past last, or past what SQLite can hold: no new counter value after q->next. */
static bool counter_last(const SeqRow *q) {
        uint64_t limit = q->has_last ? MIN(q->last, (uint64_t)STORE_SEQUENCE_VALUE_MAX)
                                     : (uint64_t)STORE_SEQUENCE_VALUE_MAX;
        return q->step > limit - MIN(q->next, limit) || q->next > limit;
}

/* The next new value into v, taking nothing; -ENOSPC when there is none. */
static int new_value(sqlite3 *db, const SeqRow *q, StoreValue *v) {
        _cleanup_stmt_ sqlite3_stmt *line = NULL;
        int r;

        if (q->exhausted || (q->list && q->next >= q->count))
                return -ENOSPC;
        v->index = q->next;
        if (q->list) {
                r = prepare(db, "SELECT value FROM sequence_values WHERE seq_id = ?1 AND idx = ?2", &line);
                if (r < 0)
                        return r;
                (void)sqlite3_bind_int64(line, 1, q->id);
                (void)sqlite3_bind_int64(line, 2, i64(q->next));
                r = step(line);
                if (r <= 0)
                        return r < 0 ? r : -EBADMSG;
                v->value = strdup((const char *)sqlite3_column_text(line, 0));
        } else if (asprintf(&v->value, "%" PRIu64, q->next) < 0)
                v->value = NULL;
        return v->value ? 0 : -ENOMEM;
}

/* The next new value; -ENOSPC when there is none. */
static int take_new(Store *s, const SeqRow *q, StoreValue *v) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        uint64_t next = q->next + (q->list ? 1 : q->step);
        bool exhausted;
        int r;

        r = new_value(s->db, q, v);
        if (r < 0)
                return r;
        if (q->list)
                exhausted = next >= q->count;
        else {
                exhausted = counter_last(q);
                if (exhausted)
                        next = q->next;
        }
        r = prepare(s->db, "UPDATE sequences SET next = ?2, exhausted = ?3 WHERE id = ?1", &st);
        if (r < 0)
                return r;
        (void)sqlite3_bind_int64(st, 1, q->id);
        (void)sqlite3_bind_int64(st, 2, i64(next));
        (void)sqlite3_bind_int(st, 3, exhausted);
        r = step(st);
        return r < 0 ? r : 0;
}

int store_sequence_peek(Store *s, const char *name, char **ret) {
        StoreValue v = {};
        sqlite3_int64 id;
        sqlite3 *db;
        SeqRow q;
        int r;

        r = store_read_acquire(s, &db);
        if (r < 0)
                return r;
        r = seq_row(db, name, &q);
        if (r >= 0)
                r = find_returned(db, &q, &v, &id);
        if (r == 0)
                r = new_value(db, &q, &v);
        store_read_release(s, db);
        if (r < 0) {
                free(v.value);
                return r;
        }
        *ret = v.value;
        return 0;
}

static int record_taken(Store *s, const SeqRow *q, const StoreJobStart *j, const StoreValue *v) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = prepare(s->db,
                    "INSERT INTO allocations (seq_id, sequence, idx, value, job_id, port, serial, state, "
                    "taken_time) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'taken', ?8)",
                    &st);
        if (r < 0)
                return r;
        (void)sqlite3_bind_int64(st, 1, q->id);
        (void)sqlite3_bind_text(st, 2, v->sequence, -1, SQLITE_STATIC);
        (void)sqlite3_bind_int64(st, 3, i64(v->index));
        (void)sqlite3_bind_text(st, 4, v->value, -1, SQLITE_STATIC);
        (void)sqlite3_bind_int64(st, 5, j->id);
        (void)sqlite3_bind_text(st, 6, j->port, -1, SQLITE_STATIC);
        (void)sqlite3_bind_text(st, 7, j->serial, -1, SQLITE_STATIC);
        (void)sqlite3_bind_int64(st, 8, i64(j->start_usec));
        return step(st);
}

static bool seen_before(char *const *l, size_t i) {
        for (size_t k = 0; k < i; k++)
                if (streq(l[k], l[i]))
                        return true;
        return false;
}

int store_apply_allocate(Store *s, const StoreJobStart *j, char *const *sequences, StoreValue **ret_values,
                         size_t *ret_n, char **ret_exhausted) {
        size_t n = strv_length(sequences);
        StoreValue *values = calloc(MAX(n, 1u), sizeof(StoreValue));
        size_t k = 0;
        int r = 0;

        if (!values)
                return -ENOMEM;
        for (size_t i = 0; r >= 0 && i < n; i++) {
                StoreValue *v = &values[k];
                SeqRow q;

                if (seen_before(sequences, i))
                        continue; /* one value per sequence and job: patches naming it share it */
                k++;
                v->sequence = strdup(sequences[i]);
                if (!v->sequence) {
                        r = -ENOMEM;
                        break;
                }
                r = seq_row(s->db, sequences[i], &q);
                if (r >= 0)
                        r = take_returned(s, &q, v);
                if (r == 0)
                        r = take_new(s, &q, v);
                if (r == -ENOSPC && ret_exhausted)
                        *ret_exhausted = strdup(sequences[i]);
                if (r >= 0)
                        r = record_taken(s, &q, j, v);
        }
        if (r < 0) {
                store_values_free(values, k);
                return r;
        }
        *ret_values = values;
        *ret_n = k;
        return 0;
}

/* Adds the job's taken values to the count of their new state (a column name from a fixed list). */
static int store_sequences_count(Store *s, uint32_t job_id, const char *state) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *sql = NULL;
        int r;

        if (asprintf(&sql,
                     "UPDATE sequences SET %1$s = %1$s + (SELECT COUNT(*) FROM allocations a WHERE a.job_id "
                     "= ?1 "
                     "AND a.state = 'taken' AND a.seq_id = sequences.id) WHERE id IN (SELECT seq_id FROM "
                     "allocations WHERE job_id = ?1 AND state = 'taken')",
                     state) < 0)
                return -ENOMEM;
        r = prepare(s->db, sql, &st);
        if (r < 0)
                return r;
        (void)sqlite3_bind_int64(st, 1, job_id);
        r = step(st);
        return r < 0 ? r : 0;
}

int store_apply_values_end(Store *s, uint32_t job_id, StoreValuesEnd how, uint64_t usec) {
        static const char *const states[] = {
                [STORE_VALUES_SPOILED] = "spoiled",
                [STORE_VALUES_USED] = "used",
                [STORE_VALUES_RETURNED] = "returned",
        };
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        if ((size_t)how >= ELEMENTSOF(states))
                return -EINVAL;
        /* The counts first, from the rows about to change (a job holds a few). */
        r = store_sequences_count(s, job_id, states[how]);
        if (r < 0)
                return r;
        r = prepare(s->db,
                    "UPDATE allocations SET state = ?2, end_time = ?3 WHERE job_id = ?1 AND state = 'taken'",
                    &st);
        if (r < 0)
                return r;
        (void)sqlite3_bind_int64(st, 1, job_id);
        (void)sqlite3_bind_text(st, 2, states[how], -1, SQLITE_STATIC);
        (void)sqlite3_bind_int64(st, 3, i64(usec));
        r = step(st);
        return r < 0 ? r : 0;
}

int store_values_settle_interrupted(Store *s) {
        int r = store_exec(s->db, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        /* Only the few values still taken are read, through their partial index. */
        r = store_exec(
                s->db,
                "UPDATE sequences SET "
                "used = used + (SELECT COUNT(*) FROM allocations a INDEXED BY allocations_taken "
                "WHERE a.seq_id = sequences.id AND a.state = 'taken' AND "
                "COALESCE((SELECT leave_time FROM jobs WHERE jobs.id = a.job_id), 0) > 0), "
                "spoiled = spoiled + (SELECT COUNT(*) FROM allocations a INDEXED BY allocations_taken "
                "WHERE a.seq_id = sequences.id AND a.state = 'taken' AND "
                "COALESCE((SELECT leave_time FROM jobs WHERE jobs.id = a.job_id), 0) = 0)");
        if (r >= 0)
                r = store_exec(
                        s->db,
                        "UPDATE allocations INDEXED BY allocations_taken SET state = CASE WHEN "
                        "COALESCE((SELECT leave_time FROM jobs WHERE jobs.id = allocations.job_id), 0) > 0 "
                        "THEN 'used' ELSE 'spoiled' END WHERE state = 'taken'");
        if (r >= 0)
                r = store_exec(s->db, "COMMIT");
        if (r < 0)
                (void)store_exec(s->db, "ROLLBACK");
        return r;
}

static int load_sequence(sqlite3_stmt *st, StoreSequence *q) {
        *q = (StoreSequence){
                .kind = streq((const char *)sqlite3_column_text(st, 1), "list") ? STORE_SEQUENCE_LIST
                                                                                : STORE_SEQUENCE_COUNTER,
                .start = column_u64(st, 2),
                .step = column_u64(st, 3),
                .has_last = sqlite3_column_type(st, 4) != SQLITE_NULL,
                .last = sqlite3_column_type(st, 4) != SQLITE_NULL ? column_u64(st, 4)
                                                                  : STORE_SEQUENCE_VALUE_MAX,
                .next = column_u64(st, 5),
                .n_values = column_u64(st, 6),
                .exhausted = sqlite3_column_int(st, 7) != 0,
                .owner = (uint32_t)column_u64(st, 8),
                .created_usec = column_u64(st, 9),
                .taken = column_u64(st, 10),
                .used = column_u64(st, 11),
                .spoiled = column_u64(st, 12),
                .returned = column_u64(st, 13),
                .pending = column_u64(st, 14),
        };
        q->name = strdup((const char *)sqlite3_column_text(st, 0));
        return q->name ? 0 : -ENOMEM;
}

int store_load_sequences(Store *s, StoreState *state) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = prepare(
                s->db,
                "SELECT name, kind, start, step, last, next, count, exhausted, owner, created, "
                "(SELECT COUNT(*) FROM allocations a INDEXED BY allocations_taken WHERE a.seq_id = q.id "
                "AND state = 'taken'), used, spoiled, returned, "
                "(SELECT COUNT(*) FROM allocations a INDEXED BY allocations_pending WHERE a.seq_id = q.id "
                "AND state = 'returned' AND reissued = 0) FROM sequences q ORDER BY name",
                &st);
        if (r < 0)
                return r;
        while ((r = step(st)) > 0) {
                StoreSequence *a =
                        reallocarray(state->sequences, state->n_sequences + 1, sizeof(StoreSequence));
                if (!a)
                        return -ENOMEM;
                state->sequences = a;
                r = load_sequence(st, &state->sequences[state->n_sequences++]);
                if (r < 0)
                        return r;
        }
        return r;
}

int store_history_values(sqlite3 *db, uint32_t job_id, char ***ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_strv_free_ char **l = NULL;
        int r;

        r = prepare(db,
                    "SELECT sequence, value FROM allocations WHERE job_id = ?1 AND state <> 'returned' "
                    "ORDER BY id",
                    &st);
        if (r < 0)
                return r;
        (void)sqlite3_bind_int64(st, 1, job_id);
        while ((r = step(st)) > 0) {
                r = strv_extend(&l, (const char *)sqlite3_column_text(st, 0));
                if (r >= 0)
                        r = strv_extend(&l, (const char *)sqlite3_column_text(st, 1));
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

void store_spoiled_free(StoreSpoiled *v, size_t n) {
        FOREACH_ARRAY (i, v, n) {
                free(i->value);
                free(i->port);
                free(i->serial);
        }
        free(v);
}

static char *column_strdup(sqlite3_stmt *st, int i) {
        const char *v = (const char *)sqlite3_column_text(st, i);
        return v ? strdup(v) : NULL;
}

static int spoiled_run(sqlite3 *db, const char *name, uint32_t limit, StoreSpoiled *v, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        size_t n = 0;
        SeqRow q;
        int r;

        r = seq_row(db, name, &q);
        if (r < 0)
                return r;
        /* state <> 'returned' lets allocations_once serve the query, in value order. */
        r = prepare(db,
                    "SELECT value, job_id, port, serial, end_time FROM allocations WHERE seq_id = ?1 AND "
                    "state <> 'returned' AND state = 'spoiled' ORDER BY idx LIMIT ?2",
                    &st);
        if (r < 0)
                return r;
        (void)sqlite3_bind_int64(st, 1, q.id);
        (void)sqlite3_bind_int64(st, 2, limit);
        while (n < limit && (r = step(st)) > 0) {
                v[n] = (StoreSpoiled){
                        .value = column_strdup(st, 0),
                        .job_id = (uint32_t)column_u64(st, 1),
                        .port = column_strdup(st, 2),
                        .serial = column_strdup(st, 3),
                        .end_usec = column_u64(st, 4),
                };
                if (!v[n++].value)
                        r = -ENOMEM;
        }
        *ret_n = n;
        return r < 0 ? r : 0;
}

int store_sequence_spoiled(Store *s, const char *name, uint32_t limit, StoreSpoiled **ret, size_t *ret_n) {
        size_t n = 0;
        StoreSpoiled *v;
        sqlite3 *db;
        int r;

        limit = MIN(MAX(limit, 1u), STORE_SPOILED_LIMIT_MAX);
        v = calloc(limit, sizeof(StoreSpoiled));
        if (!v)
                return -ENOMEM;
        r = store_read_acquire(s, &db);
        if (r >= 0) {
                r = spoiled_run(db, name, limit, v, &n);
                store_read_release(s, db);
        }
        if (r < 0) {
                store_spoiled_free(v, n);
                return r;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}
