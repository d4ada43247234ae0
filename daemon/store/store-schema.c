/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "store-internal.h"

/*
 * The schema is versioned by PRAGMA user_version. Each step below takes the database from the version
 * before it to its own; a database is brought up to date by running the steps it has not seen, each in
 * its own transaction. Steps are only ever appended: a released step never changes.
 */

typedef struct StoreMigration {
        int version;
        const char *sql;
} StoreMigration;

static const StoreMigration store_migrations[] = {
        {1,
         /* end_seq orders the history and is the paging cursor: end_time can go backwards with the
          * clock, end_seq cannot. meta holds the counters that must outlive the rows they numbered. */
         "CREATE TABLE jobs ("
         " id INTEGER PRIMARY KEY,"
         " owner INTEGER NOT NULL DEFAULT 0,"
         " submit_time INTEGER NOT NULL DEFAULT 0,"
         " target TEXT,"
         " options TEXT NOT NULL DEFAULT '{}',"
         " images TEXT NOT NULL DEFAULT '[]',"
         " rule INTEGER NOT NULL DEFAULT 0,"
         " start_time INTEGER NOT NULL DEFAULT 0,"
         " port TEXT,"
         " serial TEXT,"
         " station TEXT,"
         " leave_time INTEGER NOT NULL DEFAULT 0,"
         " end_seq INTEGER UNIQUE,"
         " end_time INTEGER,"
         " result TEXT,"
         " error TEXT,"
         " image_sha256 TEXT,"
         " duration INTEGER NOT NULL DEFAULT 0,"
         " bytes INTEGER NOT NULL DEFAULT 0,"
         " dropped_segments INTEGER NOT NULL DEFAULT 0,"
         " interrupted INTEGER NOT NULL DEFAULT 0);"
         "CREATE INDEX jobs_end_time ON jobs(end_time);"
         "CREATE INDEX jobs_port ON jobs(port, end_seq);"
         "CREATE INDEX jobs_serial ON jobs(serial, end_seq);"
         "CREATE INDEX jobs_image ON jobs(image_sha256, end_seq);"
         "CREATE INDEX jobs_result ON jobs(result, end_seq);"
         "CREATE INDEX jobs_unfinished ON jobs(id) WHERE end_seq IS NULL;"
         "CREATE TABLE rules ("
         " id INTEGER PRIMARY KEY,"
         " owner INTEGER NOT NULL DEFAULT 0,"
         " options TEXT NOT NULL DEFAULT '{}',"
         " images TEXT NOT NULL DEFAULT '[]');"
         "CREATE TABLE rule_boards ("
         " rule_id INTEGER NOT NULL,"
         " key TEXT NOT NULL,"
         " PRIMARY KEY (rule_id, key));"
         "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
         "INSERT INTO meta VALUES ('next_job_id', 1), ('next_rule_id', 1), ('next_end_seq', 1);"},
        {2,
         /* What accepted a job's images ([Trust]) and what it changed in the board's protection. */
         "ALTER TABLE jobs ADD COLUMN trust TEXT;"
         "ALTER TABLE jobs ADD COLUMN protection TEXT;"
         "ALTER TABLE rules ADD COLUMN trust TEXT;"},
        {3,
         /* Sequences and what they handed out. id is never reused (AUTOINCREMENT), so a sequence
          * created again under an old name does not collide with the old one's allocations, which
          * are kept as the record of which board got which value. allocations_once is the promise
          * that no value is taken twice: only a returned value may be taken again. */
         "CREATE TABLE sequences ("
         " id INTEGER PRIMARY KEY AUTOINCREMENT,"
         " name TEXT NOT NULL UNIQUE,"
         " kind TEXT NOT NULL CHECK (kind IN ('counter', 'list')),"
         " start INTEGER NOT NULL DEFAULT 0,"
         " step INTEGER NOT NULL DEFAULT 1,"
         " last INTEGER,"
         " next INTEGER NOT NULL DEFAULT 0,"
         " count INTEGER NOT NULL DEFAULT 0,"
         " exhausted INTEGER NOT NULL DEFAULT 0,"
         " owner INTEGER NOT NULL DEFAULT 0,"
         " created INTEGER NOT NULL DEFAULT 0,"
         " used INTEGER NOT NULL DEFAULT 0,"
         " spoiled INTEGER NOT NULL DEFAULT 0,"
         " returned INTEGER NOT NULL DEFAULT 0);"
         "CREATE TABLE sequence_values ("
         " seq_id INTEGER NOT NULL,"
         " idx INTEGER NOT NULL,"
         " value TEXT NOT NULL,"
         " PRIMARY KEY (seq_id, idx)) WITHOUT ROWID;"
         "CREATE TABLE allocations ("
         " id INTEGER PRIMARY KEY,"
         " seq_id INTEGER NOT NULL,"
         " sequence TEXT NOT NULL,"
         " idx INTEGER NOT NULL,"
         " value TEXT NOT NULL,"
         " job_id INTEGER NOT NULL,"
         " port TEXT,"
         " serial TEXT,"
         " state TEXT NOT NULL CHECK (state IN ('taken', 'used', 'spoiled', 'returned')),"
         " reissued INTEGER NOT NULL DEFAULT 0,"
         " taken_time INTEGER NOT NULL DEFAULT 0,"
         " end_time INTEGER NOT NULL DEFAULT 0);"
         "CREATE UNIQUE INDEX allocations_once ON allocations(seq_id, idx) WHERE state <> 'returned';"
         "CREATE INDEX allocations_pending ON allocations(seq_id, idx) "
         " WHERE state = 'returned' AND reissued = 0;"
         /* Start-up reads the counts kept in sequences and the few values still taken or
          * returned, through these partial indexes: its cost does not grow with the history. */
         "CREATE INDEX allocations_taken ON allocations(seq_id) WHERE state = 'taken';"
         "CREATE INDEX allocations_job ON allocations(job_id);"
         "CREATE INDEX allocations_value ON allocations(value);"},
};

int store_errno(int sqlite_rc) {
        switch (sqlite_rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE:
                return 0;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_CONSTRAINT:
                return -EEXIST;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_CANTOPEN:
                return -ENOENT;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
        case SQLITE_FORMAT:
                return -EBADMSG;
        case SQLITE_TOOBIG:
                return -E2BIG;
        default:
                return -EIO;
        }
}

int store_exec(sqlite3 *db, const char *sql) {
        return store_errno(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

int store_db_open(const char *path, bool writer, sqlite3 **ret) {
        int flags = SQLITE_OPEN_NOMUTEX |
                    (writer ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY);
        sqlite3 *db = NULL;
        int r;

        r = sqlite3_open_v2(path, &db, flags, NULL);
        if (r != SQLITE_OK) {
                sqlite3_close(db);
                return store_errno(r);
        }
        (void)sqlite3_extended_result_codes(db, 1);
        r = store_errno(sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MSEC));
        /* FULL: a commit is on disk when it returns, which is what the completions promise. */
        if (r >= 0 && writer)
                r = store_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
        if (r < 0) {
                sqlite3_close(db);
                return r;
        }
        *ret = db;
        return 0;
}

static int store_user_version(sqlite3 *db, int *ret) {
        sqlite3_stmt *st = NULL;
        int r;

        r = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
        if (r == SQLITE_OK)
                r = sqlite3_step(st);
        if (r == SQLITE_ROW)
                *ret = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        return r == SQLITE_ROW ? 0 : store_errno(r);
}

static int store_migrate_one(sqlite3 *db, const StoreMigration *m) {
        char pragma[64];
        int r;

        (void)snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d", m->version);
        r = store_exec(db, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        r = store_exec(db, m->sql);
        if (r >= 0)
                r = store_exec(db, pragma);
        if (r >= 0)
                r = store_exec(db, "COMMIT");
        if (r < 0)
                (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return r;
}

int store_schema_migrate(sqlite3 *db, char **ret_error) {
        int version = 0, latest = store_migrations[ELEMENTSOF(store_migrations) - 1].version, r;

        r = store_user_version(db, &version);
        if (r < 0) {
                store_set_error(ret_error, "not an SQLite database or unreadable: %s", sqlite3_errmsg(db));
                return r;
        }
        if (version > latest) {
                store_set_error(ret_error, "schema version %d is newer than this dfusd knows (%d)", version,
                                latest);
                return -EPROTO;
        }
        FOREACH_ARRAY (m, store_migrations, ELEMENTSOF(store_migrations)) {
                if (m->version <= version)
                        continue;
                r = store_migrate_one(db, m);
                if (r < 0) {
                        store_set_error(ret_error, "failed to migrate the schema to version %d: %s",
                                        m->version, sqlite3_errmsg(db));
                        return r;
                }
        }
        return 0;
}
