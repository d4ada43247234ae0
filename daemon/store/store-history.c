/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <string.h>

#include "store-internal.h"

/*
 * History queries read ended jobs newest first along one index (end_seq itself, or one of the
 * (column, end_seq) pairs when a column is filtered on), stop after limit + 1 rows and hand the page
 * back oldest first. Read connections are pooled: opening one costs more than a small query.
 */

int store_read_acquire(Store *s, sqlite3 **ret) {
        sqlite3 *db = NULL;

        pthread_mutex_lock(&s->read_lock);
        if (s->n_read_pool > 0)
                db = s->read_pool[--s->n_read_pool];
        pthread_mutex_unlock(&s->read_lock);
        if (db) {
                *ret = db;
                return 0;
        }
        return store_db_open(s->db_path, false, ret);
}

void store_read_release(Store *s, sqlite3 *db) {
        pthread_mutex_lock(&s->read_lock);
        if (s->n_read_pool < STORE_READ_POOL_SIZE) {
                s->read_pool[s->n_read_pool++] = db;
                db = NULL;
        }
        pthread_mutex_unlock(&s->read_lock);
        sqlite3_close(db);
}

void store_read_pool_close(Store *s) {
        FOREACH_ARRAY (db, s->read_pool, s->n_read_pool)
                sqlite3_close(*db);
        s->n_read_pool = 0;
}

static void store_history_entry_done(StoreHistoryEntry *e) {
        free(e->result);
        free(e->error);
        free(e->port);
        free(e->serial);
        free(e->station);
        free(e->target);
        free(e->image_sha256);
        free(e->trust);
        free(e->protection);
        free(e->origin);
        strv_free(e->values);
}

StoreHistory *store_history_free(StoreHistory *h) {
        if (!h)
                return NULL;
        FOREACH_ARRAY (e, h->entries, h->n)
                store_history_entry_done(e);
        free(h->entries);
        return mfree(h);
}

#define HISTORY_COLUMNS                                                                                \
        "end_seq, id, rule, result, error, port, serial, station, target, image_sha256, submit_time, " \
        "start_time, end_time, duration, bytes, dropped_segments, interrupted, trust, protection, "    \
        "json_extract(options, '$.origin')"

/* Builds the query for the filters that are set; parameters are bound by name. */
static int store_history_sql(const StoreHistoryFilter *f, char **ret) {
        char *sql = NULL;
        int r;

        r = asprintf(&sql,
                     "SELECT " HISTORY_COLUMNS " FROM jobs WHERE end_seq IS NOT NULL%s%s%s%s%s%s%s%s "
                     "ORDER BY end_seq DESC LIMIT :limit",
                     f->since ? " AND end_time >= :since" : "", f->until ? " AND end_time <= :until" : "",
                     f->port ? " AND port = :port" : "", f->serial ? " AND serial = :serial" : "",
                     f->image ? " AND image_sha256 = :image" : "", f->result ? " AND result = :result" : "",
                     f->before ? " AND end_seq < :before" : "",
                     f->value ? " AND id IN (SELECT job_id FROM allocations WHERE value = :value "
                                "AND state <> 'returned')"
                              : "");
        if (r < 0)
                return -ENOMEM;
        *ret = sql;
        return 0;
}

static int bind_named_u64(sqlite3_stmt *st, const char *name, uint64_t v) {
        int i = sqlite3_bind_parameter_index(st, name);
        return i == 0 ? SQLITE_OK : sqlite3_bind_int64(st, i, v > INT64_MAX ? INT64_MAX : (sqlite3_int64)v);
}

static int bind_named_text(sqlite3_stmt *st, const char *name, const char *v) {
        int i = sqlite3_bind_parameter_index(st, name);
        return i == 0 || !v ? SQLITE_OK : sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static int store_history_bind(sqlite3_stmt *st, const StoreHistoryFilter *f, uint32_t limit) {
        return bind_named_u64(st, ":since", f->since) | bind_named_u64(st, ":until", f->until) |
               bind_named_text(st, ":port", f->port) | bind_named_text(st, ":serial", f->serial) |
               bind_named_text(st, ":image", f->image) | bind_named_text(st, ":result", f->result) |
               bind_named_text(st, ":value", f->value) | bind_named_u64(st, ":before", f->before) |
               bind_named_u64(st, ":limit", (uint64_t)limit + 1);
}

static int column_str(sqlite3_stmt *st, int i, char **ret) {
        const unsigned char *v = sqlite3_column_text(st, i);
        if (!v) {
                *ret = NULL;
                return sqlite3_errcode(sqlite3_db_handle(st)) == SQLITE_NOMEM ? -ENOMEM : 0;
        }
        *ret = strdup((const char *)v);
        return *ret ? 0 : -ENOMEM;
}

static uint64_t column_u64(sqlite3_stmt *st, int i) {
        sqlite3_int64 v = sqlite3_column_int64(st, i);
        return v < 0 ? 0 : (uint64_t)v;
}

static int store_history_entry_read(sqlite3_stmt *st, StoreHistoryEntry *e) {
        *e = (StoreHistoryEntry){
                .cursor = column_u64(st, 0),
                .id = (uint32_t)column_u64(st, 1),
                .rule_id = (uint32_t)column_u64(st, 2),
                .submit_usec = column_u64(st, 10),
                .start_usec = column_u64(st, 11),
                .end_usec = column_u64(st, 12),
                .duration_usec = column_u64(st, 13),
                .bytes = column_u64(st, 14),
                .dropped_segments = column_u64(st, 15),
                .interrupted = sqlite3_column_int(st, 16) != 0,
        };
        char **strings[] = {&e->result,  &e->error,  &e->port,        &e->serial,
                            &e->station, &e->target, &e->image_sha256};
        for (size_t i = 0; i < ELEMENTSOF(strings); i++)
                if (column_str(st, 3 + (int)i, strings[i]) < 0)
                        return -ENOMEM;
        /* the origin is one of the options kept at submit: no column of its own to migrate */
        if (column_str(st, 17, &e->trust) < 0 || column_str(st, 18, &e->protection) < 0 ||
            column_str(st, 19, &e->origin) < 0)
                return -ENOMEM;
        return 0;
}

/* Steps through the rows (newest first) and stores them oldest first. */
static int store_history_collect(sqlite3_stmt *st, uint32_t limit, StoreHistory *h) {
        int r = 0, k = SQLITE_DONE;

        h->entries = calloc(limit, sizeof(StoreHistoryEntry));
        if (!h->entries)
                return -ENOMEM;
        while (r >= 0 && (k = sqlite3_step(st)) == SQLITE_ROW) {
                if (h->n == limit) {
                        h->more = true;
                        break;
                }
                /* Counted before it is read, so that a half-read entry is freed with the others. */
                r = store_history_entry_read(st, &h->entries[limit - 1 - h->n++]);
        }
        if (r >= 0 && k != SQLITE_ROW && k != SQLITE_DONE)
                r = store_errno(k);
        if (h->n < limit)
                memmove(h->entries, h->entries + (limit - h->n), h->n * sizeof(StoreHistoryEntry));
        return r;
}

static int store_history_run(sqlite3 *db, const StoreHistoryFilter *f, uint32_t limit, StoreHistory *h) {
        _cleanup_free_ char *sql = NULL;
        sqlite3_stmt *st = NULL;
        int r;

        r = store_history_sql(f, &sql);
        if (r < 0)
                return r;
        r = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
        if (r != SQLITE_OK)
                return store_errno(r);
        r = store_history_bind(st, f, limit);
        r = r != SQLITE_OK ? store_errno(r) : store_history_collect(st, limit, h);
        sqlite3_finalize(st);
        /* A page is at most STORE_HISTORY_LIMIT_MAX entries, each one indexed look-up. */
        FOREACH_ARRAY (e, h->entries, h->n)
                if (r >= 0)
                        r = store_history_values(db, e->id, &e->values);
        return r;
}

int store_history_query(Store *s, const StoreHistoryFilter *f, StoreHistory **ret) {
        _cleanup_(store_history_freep) StoreHistory *h = NULL;
        StoreHistoryFilter none = {};
        sqlite3 *db = NULL;
        uint32_t limit;
        int r;

        if (!s || !ret)
                return -EINVAL;
        if (!f)
                f = &none;
        limit = f->limit == 0 ? STORE_HISTORY_LIMIT_DEFAULT : MIN(f->limit, STORE_HISTORY_LIMIT_MAX);
        h = calloc(1, sizeof(StoreHistory));
        if (!h)
                return -ENOMEM;
        r = store_read_acquire(s, &db);
        if (r < 0)
                return r;
        r = store_history_run(db, f, limit, h);
        store_read_release(s, db);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(h);
        return 0;
}
