/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "store-internal.h"

void store_set_error(char **ret_error, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(ret_error, fmt, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
}

/*
 * Opening the store: create or migrate the database, import the files of older versions once, and read
 * what start-up needs. Only unfinished jobs (through their partial index) and the rules are read, so the
 * cost does not grow with the history.
 */

StoreState *store_state_free(StoreState *st) {
        if (!st)
                return NULL;
        FOREACH_ARRAY (j, st->jobs, st->n_jobs) {
                free(j->target);
                free(j->options_json);
                strv_free(j->image_hashes);
        }
        free(st->jobs);
        FOREACH_ARRAY (r, st->rules, st->n_rules) {
                free(r->options_json);
                strv_free(r->image_hashes);
                strv_free(r->flashed);
                free(r->trust);
        }
        free(st->rules);
        FOREACH_ARRAY (q, st->sequences, st->n_sequences)
                store_sequence_done(q);
        free(st->sequences);
        return mfree(st);
}

/* Makes room for one more element in a growing array. */
static int grow(void **array, size_t n, size_t size) {
        if ((n & (n - 1)) == 0 && n >= 8) {
                void *p = reallocarray(*array, n * 2, size);
                if (!p)
                        return -ENOMEM;
                *array = p;
        } else if (n == 0) {
                *array = calloc(8, size);
                if (!*array)
                        return -ENOMEM;
        }
        return 0;
}

static char *column_dup(sqlite3_stmt *st, int i, const char *fallback) {
        const unsigned char *v = sqlite3_column_text(st, i);
        return v ? strdup((const char *)v) : fallback ? strdup(fallback) : NULL;
}

static int store_load_job(sqlite3_stmt *st, StoreUnfinished *j) {
        *j = (StoreUnfinished){
                .id = (uint32_t)sqlite3_column_int64(st, 0),
                .owner = (uint32_t)sqlite3_column_int64(st, 1),
                .rule_id = (uint32_t)sqlite3_column_int64(st, 2),
                .submit_usec = (uint64_t)sqlite3_column_int64(st, 3),
                .started = sqlite3_column_int64(st, 7) != 0,
                .leave = sqlite3_column_int64(st, 8) != 0,
        };
        if (sqlite3_column_type(st, 4) != SQLITE_NULL && !(j->target = column_dup(st, 4, NULL)))
                return -ENOMEM;
        if (!(j->options_json = column_dup(st, 5, "{}")))
                return -ENOMEM;
        return store_strv_from_json((const char *)sqlite3_column_text(st, 6), &j->image_hashes);
}

/* The partial index holds only the unfinished jobs: named, so that no plan ever walks the history. */
static int store_load_jobs(Store *s, StoreState *state) {
        sqlite3_stmt *st = NULL;
        int r;

        r = sqlite3_prepare_v2(
                s->db,
                "SELECT id, owner, rule, submit_time, target, options, images, start_time, "
                "leave_time FROM jobs INDEXED BY jobs_unfinished WHERE end_seq IS NULL ORDER BY id",
                -1, &st, NULL);
        if (r != SQLITE_OK)
                return store_errno(r);
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
                int k = grow((void **)&state->jobs, state->n_jobs, sizeof(StoreUnfinished));
                if (k < 0) {
                        r = k;
                        break;
                }
                k = store_load_job(st, &state->jobs[state->n_jobs++]);
                if (k < 0) {
                        r = k;
                        break;
                }
        }
        sqlite3_finalize(st);
        return r == SQLITE_DONE ? 0 : r < 0 ? r : store_errno(r);
}

static StoreRule *store_state_rule(StoreState *state, uint32_t id) {
        size_t lo = 0, hi = state->n_rules;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (state->rules[mid].id == id)
                        return &state->rules[mid];
                if (state->rules[mid].id < id)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

static int store_load_rule(sqlite3_stmt *st, StoreRule *rule) {
        *rule = (StoreRule){
                .id = (uint32_t)sqlite3_column_int64(st, 0),
                .owner = (uint32_t)sqlite3_column_int64(st, 1),
                .flashed = calloc(1, sizeof(char *)),
        };
        if (!rule->flashed || !(rule->options_json = column_dup(st, 2, "{}")))
                return -ENOMEM;
        if (sqlite3_column_type(st, 4) != SQLITE_NULL && !(rule->trust = column_dup(st, 4, "")))
                return -ENOMEM;
        return store_strv_from_json((const char *)sqlite3_column_text(st, 3), &rule->image_hashes);
}

static int store_load_boards(Store *s, StoreState *state) {
        sqlite3_stmt *st = NULL;
        int r;

        r = sqlite3_prepare_v2(s->db, "SELECT rule_id, key FROM rule_boards ORDER BY rule_id, rowid", -1,
                               &st, NULL);
        if (r != SQLITE_OK)
                return store_errno(r);
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
                StoreRule *rule = store_state_rule(state, (uint32_t)sqlite3_column_int64(st, 0));
                const char *key = (const char *)sqlite3_column_text(st, 1);
                int k = rule && key ? strv_extend(&rule->flashed, key) : 0;
                if (k < 0) {
                        r = k;
                        break;
                }
        }
        sqlite3_finalize(st);
        return r == SQLITE_DONE ? 0 : r < 0 ? r : store_errno(r);
}

static int store_load_rules(Store *s, StoreState *state) {
        sqlite3_stmt *st = NULL;
        int r;

        r = sqlite3_prepare_v2(s->db, "SELECT id, owner, options, images, trust FROM rules ORDER BY id", -1,
                               &st, NULL);
        if (r != SQLITE_OK)
                return store_errno(r);
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
                int k = grow((void **)&state->rules, state->n_rules, sizeof(StoreRule));
                if (k < 0) {
                        r = k;
                        break;
                }
                k = store_load_rule(st, &state->rules[state->n_rules++]);
                if (k < 0) {
                        r = k;
                        break;
                }
        }
        sqlite3_finalize(st);
        r = r == SQLITE_DONE ? 0 : r < 0 ? r : store_errno(r);
        return r < 0 ? r : store_load_boards(s, state);
}

static int store_load_meta(Store *s, StoreState *state) {
        sqlite3_stmt *st = NULL;
        int r;

        r = sqlite3_prepare_v2(s->db, "SELECT key, value FROM meta", -1, &st, NULL);
        if (r != SQLITE_OK)
                return store_errno(r);
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
                const char *key = (const char *)sqlite3_column_text(st, 0);
                uint32_t v = (uint32_t)MIN(sqlite3_column_int64(st, 1), (sqlite3_int64)UINT32_MAX);
                if (key && streq(key, "next_job_id"))
                        state->next_job_id = v;
                else if (key && streq(key, "next_rule_id"))
                        state->next_rule_id = v;
        }
        sqlite3_finalize(st);
        return r == SQLITE_DONE ? 0 : store_errno(r);
}

static int store_load_state(Store *s, StoreState *state, char **ret_error) {
        int r = store_values_settle_interrupted(s);
        if (r >= 0)
                r = store_load_jobs(s, state);
        if (r >= 0)
                r = store_load_rules(s, state);
        if (r >= 0)
                r = store_load_sequences(s, state);
        if (r >= 0)
                r = store_load_meta(s, state);
        if (r < 0)
                store_set_error(ret_error, "%s: failed to read the jobs and rules: %s", s->db_path,
                                r == -ENOMEM ? "out of memory" : sqlite3_errmsg(s->db));
        return r;
}

static Store *store_new(const char *state_dir, sd_event *event) {
        Store *s = calloc(1, sizeof(Store));

        if (!s)
                return NULL;
        s->done_fd = -EBADF;
        pthread_mutex_init(&s->lock, NULL);
        pthread_mutex_init(&s->read_lock, NULL);
        pthread_cond_init(&s->cond, NULL);
        s->event = sd_event_ref(event);
        s->state_dir = strdup(state_dir);
        if (!s->state_dir || asprintf(&s->db_path, "%s/dfusd.db", state_dir) < 0)
                return store_close(s);
        return s;
}

static int store_open_db(Store *s, char **ret_error) {
        _cleanup_free_ char *why = NULL;
        int r;

        if (mkdir(s->state_dir, 0750) < 0 && errno != EEXIST) {
                r = -errno;
                store_set_error(ret_error, "%s: failed to create the state directory: %s", s->state_dir,
                                strerror(-r));
                return r;
        }
        r = store_db_open(s->db_path, true, &s->db);
        if (r < 0) {
                store_set_error(ret_error, "%s: failed to open as an SQLite database in WAL mode: %s",
                                s->db_path, strerror(-r));
                return r;
        }
        r = store_schema_migrate(s->db, &why);
        if (r < 0)
                store_set_error(ret_error, "%s: %s", s->db_path, why ? why : strerror(-r));
        return r;
}

int store_open(const char *state_dir, sd_event *event, Store **ret, StoreState **ret_state,
               char **ret_error) {
        _cleanup_(store_closep) Store *s = NULL;
        _cleanup_(store_state_freep) StoreState *state = NULL;
        _cleanup_free_ char *error = NULL;
        int r;

        if (ret_error)
                *ret_error = NULL;
        if (!state_dir || !event || !ret)
                return -EINVAL;
        s = store_new(state_dir, event);
        state = calloc(1, sizeof(StoreState));
        if (!s || !state)
                return -ENOMEM;
        r = store_open_db(s, &error);
        if (r >= 0)
                r = store_import_jobs(s, state, &error);
        if (r >= 0)
                r = store_import_rules(s, state, &error);
        if (r >= 0)
                r = store_load_state(s, state, &error);
        if (r >= 0) {
                r = store_writer_start(s);
                if (r < 0)
                        store_set_error(&error, "%s: failed to start the writer: %s", s->db_path,
                                        strerror(-r));
        }
        if (r < 0) {
                if (ret_error)
                        *ret_error = TAKE_PTR(error);
                return r;
        }
        *ret = TAKE_PTR(s);
        if (ret_state)
                *ret_state = TAKE_PTR(state);
        return 0;
}

Store *store_close(Store *s) {
        if (!s)
                return NULL;
        store_writer_stop(s);
        store_stmts_finalize(s);
        store_read_pool_close(s);
        /* The last connection to close checkpoints the WAL and removes it. */
        (void)sqlite3_close(s->db);
        sd_event_unref(s->event);
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->read_lock);
        pthread_mutex_destroy(&s->lock);
        free(s->db_path);
        free(s->state_dir);
        return mfree(s);
}
