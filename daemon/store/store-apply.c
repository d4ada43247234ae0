/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <limits.h>
#include <string.h>

#include "store-internal.h"

/*
 * Each write as SQL on the write connection. They run inside the caller's transaction (a writer batch,
 * or an import) and report what did not apply as a negative errno: -EEXIST for an id already recorded,
 * -ENOENT for a job or rule that is not there (or no longer unfinished), -EALREADY for a second end.
 */

static const char *const store_stmt_sql[_STORE_STMT_MAX] = {
        [STORE_STMT_SUBMIT] = "INSERT INTO jobs (id, owner, submit_time, target, options, images, rule) "
                              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        [STORE_STMT_START] = "UPDATE jobs SET start_time = ?2, port = ?3, serial = ?4, station = ?5 "
                             "WHERE id = ?1 AND end_seq IS NULL",
        [STORE_STMT_LEAVE] = "UPDATE jobs SET leave_time = ?2 WHERE id = ?1 AND end_seq IS NULL",
        /* An end without a submit (a job refused before it was recorded) is history all the same. */
        [STORE_STMT_END] =
                "INSERT INTO jobs (id, rule, submit_time, start_time, port, serial, station, target, "
                "end_time, result, error, image_sha256, duration, bytes, dropped_segments, interrupted, "
                "end_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
                "(SELECT value FROM meta WHERE key = 'next_end_seq')) "
                "ON CONFLICT (id) DO UPDATE SET rule = excluded.rule, submit_time = excluded.submit_time, "
                "start_time = excluded.start_time, port = excluded.port, serial = excluded.serial, "
                "station = excluded.station, target = excluded.target, end_time = excluded.end_time, "
                "result = excluded.result, error = excluded.error, image_sha256 = excluded.image_sha256, "
                "duration = excluded.duration, bytes = excluded.bytes, "
                "dropped_segments = excluded.dropped_segments, interrupted = excluded.interrupted, "
                "end_seq = excluded.end_seq WHERE jobs.end_seq IS NULL",
        [STORE_STMT_END_SEQ_BUMP] = "UPDATE meta SET value = value + 1 WHERE key = 'next_end_seq'",
        [STORE_STMT_JOB_ID_BUMP] = "UPDATE meta SET value = MAX(value, ?1 + 1) WHERE key = 'next_job_id'",
        [STORE_STMT_RULE_ID_BUMP] = "UPDATE meta SET value = MAX(value, ?1 + 1) WHERE key = 'next_rule_id'",
        [STORE_STMT_RULE_ADD] = "INSERT INTO rules (id, owner, options, images) VALUES (?1, ?2, ?3, ?4)",
        [STORE_STMT_RULE_REMOVE] = "DELETE FROM rules WHERE id = ?1",
        [STORE_STMT_RULE_BOARDS_REMOVE] = "DELETE FROM rule_boards WHERE rule_id = ?1",
        [STORE_STMT_RULE_BOARD_ADD] = "INSERT OR IGNORE INTO rule_boards (rule_id, key) VALUES (?1, ?2)",
        [STORE_STMT_RULE_EXISTS] = "SELECT 1 FROM rules WHERE id = ?1",
        /* What accepted the images and what the job changed in the board's protection (schema 2). */
        [STORE_STMT_END_NOTES] = "UPDATE jobs SET trust = ?2, protection = ?3 WHERE id = ?1",
        [STORE_STMT_RULE_TRUST] = "UPDATE rules SET trust = ?2 WHERE id = ?1",
        [STORE_STMT_PRUNE] = "DELETE FROM jobs WHERE end_seq IS NOT NULL AND end_time < ?1",
};

static void store_stmt_resetp(sqlite3_stmt **st) {
        if (*st) {
                (void)sqlite3_reset(*st);
                (void)sqlite3_clear_bindings(*st);
        }
}

static int store_stmt(Store *s, StoreStmtId id, sqlite3_stmt **ret) {
        if (!s->stmts[id]) {
                int r = sqlite3_prepare_v3(s->db, store_stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                           &s->stmts[id], NULL);
                if (r != SQLITE_OK)
                        return store_errno(r);
        }
        *ret = s->stmts[id];
        return 0;
}

void store_stmts_finalize(Store *s) {
        FOREACH_ARRAY (st, s->stmts, _STORE_STMT_MAX)
                *st = (sqlite3_finalize(*st), NULL);
}

static int bind_text(sqlite3_stmt *st, int i, const char *v) {
        return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

static int bind_u64(sqlite3_stmt *st, int i, uint64_t v) {
        /* Times, sizes and counts all fit in 63 bits; clamp rather than wrap to negative. */
        return sqlite3_bind_int64(st, i, v > INT64_MAX ? INT64_MAX : (sqlite3_int64)v);
}

/* Runs a statement to completion; returns the number of rows it changed, or a negative errno. */
static int store_step(Store *s, sqlite3_stmt *st, int bind_rc) {
        int r;

        if (bind_rc != SQLITE_OK)
                return store_errno(bind_rc);
        r = sqlite3_step(st);
        if (r == SQLITE_ROW)
                return 1;
        if (r != SQLITE_DONE)
                return store_errno(r);
        /* changes() still counts the last modifying statement after a query that found nothing. */
        return sqlite3_stmt_readonly(st) ? 0 : sqlite3_changes(s->db);
}

static int store_bump(Store *s, StoreStmtId id, uint32_t value) {
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_stmt(s, id, &st);

        if (r >= 0)
                r = store_step(s, st, id == STORE_STMT_END_SEQ_BUMP ? 0 : bind_u64(st, 1, value));
        return r < 0 ? r : 0;
}

int store_apply_job_id_seen(Store *s, uint32_t id) {
        return store_bump(s, STORE_STMT_JOB_ID_BUMP, id);
}

int store_apply_job_submit(Store *s, const StoreJobSubmit *j) {
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        _cleanup_free_ char *images = store_strv_to_json(j->image_hashes);
        int r, b;

        if (!images)
                return -ENOMEM;
        r = store_stmt(s, STORE_STMT_SUBMIT, &st);
        if (r < 0)
                return r;
        b = bind_u64(st, 1, j->id) | bind_u64(st, 2, j->owner) | bind_u64(st, 3, j->submit_usec) |
            bind_text(st, 4, j->target) | bind_text(st, 5, j->options_json ? j->options_json : "{}") |
            bind_text(st, 6, images) | bind_u64(st, 7, j->rule_id);
        r = store_step(s, st, b);
        if (r < 0)
                return r;
        return store_bump(s, STORE_STMT_JOB_ID_BUMP, j->id);
}

int store_apply_job_start(Store *s, const StoreJobStart *j) {
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_stmt(s, STORE_STMT_START, &st);

        if (r < 0)
                return r;
        r = store_step(s, st,
                       bind_u64(st, 1, j->id) | bind_u64(st, 2, j->start_usec) | bind_text(st, 3, j->port) |
                               bind_text(st, 4, j->serial) | bind_text(st, 5, j->station));
        return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int store_apply_job_leave(Store *s, uint32_t id, uint64_t leave_usec) {
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_stmt(s, STORE_STMT_LEAVE, &st);

        if (r < 0)
                return r;
        r = store_step(s, st, bind_u64(st, 1, id) | bind_u64(st, 2, leave_usec));
        return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int store_apply_job_end(Store *s, const StoreJobEnd *j) {
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        uint64_t duration = j->start_usec && j->end_usec > j->start_usec ? j->end_usec - j->start_usec : 0;
        int r, b;

        r = store_stmt(s, STORE_STMT_END, &st);
        if (r < 0)
                return r;
        b = bind_u64(st, 1, j->id) | bind_u64(st, 2, j->rule_id) | bind_u64(st, 3, j->submit_usec) |
            bind_u64(st, 4, j->start_usec) | bind_text(st, 5, j->port) | bind_text(st, 6, j->serial) |
            bind_text(st, 7, j->station) | bind_text(st, 8, j->target) | bind_u64(st, 9, j->end_usec) |
            bind_text(st, 10, j->result) | bind_text(st, 11, j->error) | bind_text(st, 12, j->image_sha256) |
            bind_u64(st, 13, duration) | bind_u64(st, 14, j->bytes) | bind_u64(st, 15, j->dropped_segments) |
            sqlite3_bind_int(st, 16, j->interrupted);
        r = store_step(s, st, b);
        if (r < 0)
                return r;
        if (r == 0)
                return -EALREADY;
        if (j->trust || j->protection) {
                _cleanup_(store_stmt_resetp) sqlite3_stmt *notes = NULL;
                r = store_stmt(s, STORE_STMT_END_NOTES, &notes);
                if (r >= 0)
                        r = store_step(s, notes,
                                       bind_u64(notes, 1, j->id) | bind_text(notes, 2, j->trust) |
                                               bind_text(notes, 3, j->protection));
                if (r < 0)
                        return r;
        }
        /* The values are settled with the end record: in the same transaction, never apart. */
        r = store_apply_values_end(s, j->id, j->values_end, j->end_usec);
        if (r < 0)
                return r;
        r = store_bump(s, STORE_STMT_END_SEQ_BUMP, 0);
        return r < 0 ? r : store_bump(s, STORE_STMT_JOB_ID_BUMP, j->id);
}

int store_apply_rule_flashed(Store *s, uint32_t id, const char *key) {
        _cleanup_(store_stmt_resetp) sqlite3_stmt *exists = NULL, *add = NULL;
        int r;

        r = store_stmt(s, STORE_STMT_RULE_EXISTS, &exists);
        if (r < 0)
                return r;
        r = store_step(s, exists, bind_u64(exists, 1, id));
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        r = store_stmt(s, STORE_STMT_RULE_BOARD_ADD, &add);
        if (r < 0)
                return r;
        /* A board flashed twice under the same rule is still one key. */
        r = store_step(s, add, bind_u64(add, 1, id) | bind_text(add, 2, key));
        return r < 0 ? r : 0;
}

int store_apply_rule_add(Store *s, const StoreRule *rule) {
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        _cleanup_free_ char *images = store_strv_to_json(rule->image_hashes);
        int r, b;

        if (!images)
                return -ENOMEM;
        r = store_stmt(s, STORE_STMT_RULE_ADD, &st);
        if (r < 0)
                return r;
        b = bind_u64(st, 1, rule->id) | bind_u64(st, 2, rule->owner) |
            bind_text(st, 3, rule->options_json ? rule->options_json : "{}") | bind_text(st, 4, images);
        r = store_step(s, st, b);
        if (r < 0)
                return r;
        if (rule->trust) {
                _cleanup_(store_stmt_resetp) sqlite3_stmt *trust = NULL;
                r = store_stmt(s, STORE_STMT_RULE_TRUST, &trust);
                if (r >= 0)
                        r = store_step(s, trust,
                                       bind_u64(trust, 1, rule->id) | bind_text(trust, 2, rule->trust));
                if (r < 0)
                        return r;
        }
        for (char **k = rule->flashed; k && *k; k++) {
                r = store_apply_rule_flashed(s, rule->id, *k);
                if (r < 0)
                        return r;
        }
        return store_bump(s, STORE_STMT_RULE_ID_BUMP, rule->id);
}

static int store_apply_rule_remove(Store *s, uint32_t id) {
        _cleanup_(store_stmt_resetp) sqlite3_stmt *rule = NULL, *boards = NULL;
        int r;

        r = store_stmt(s, STORE_STMT_RULE_REMOVE, &rule);
        if (r >= 0)
                r = store_step(s, rule, bind_u64(rule, 1, id));
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        r = store_stmt(s, STORE_STMT_RULE_BOARDS_REMOVE, &boards);
        if (r >= 0)
                r = store_step(s, boards, bind_u64(boards, 1, id));
        return r < 0 ? r : 0;
}

static int store_apply_prune(Store *s, uint64_t before) {
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_stmt(s, STORE_STMT_PRUNE, &st);

        if (r < 0)
                return r;
        r = store_step(s, st, bind_u64(st, 1, before));
        return r < 0 ? r : MIN(r, INT_MAX);
}

int store_apply(Store *s, StoreWrite *w) {
        switch (w->kind) {
        case STORE_WRITE_SUBMIT:
                return store_apply_job_submit(s, &w->submit);
        case STORE_WRITE_START: {
                int r = store_apply_job_start(s, &w->start);
                if (r < 0 || !w->allocated)
                        return r;
                return store_apply_allocate(s, &w->start, w->sequences, &w->values, &w->n_values,
                                            &w->exhausted);
        }
        case STORE_WRITE_LEAVE:
                return store_apply_job_leave(s, w->leave.id, w->leave.usec);
        case STORE_WRITE_END:
                return store_apply_job_end(s, &w->end);
        case STORE_WRITE_RULE_ADD:
                return store_apply_rule_add(s, &w->rule);
        case STORE_WRITE_RULE_REMOVE:
                return store_apply_rule_remove(s, w->rule_id);
        case STORE_WRITE_RULE_FLASHED:
                return store_apply_rule_flashed(s, w->flashed.id, w->flashed.key);
        case STORE_WRITE_PRUNE:
                return store_apply_prune(s, w->prune_before);
        case STORE_WRITE_SEQUENCE_ADD:
                return store_apply_sequence_add(s, &w->sequence);
        case STORE_WRITE_SEQUENCE_REMOVE:
                return store_apply_sequence_remove(s, w->sequence_name);
        }
        return -EINVAL;
}
