/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "store-internal.h"

/*
 * Import of the files older versions kept in the state directory: jobs.jsonl (one JSON event record a
 * line: "submit", "start", "leave", "end") and rules.json. Each file goes in one transaction and is
 * renamed to *.imported once that is committed; a crash in between imports it again, which changes
 * nothing, since every record already there is refused as a duplicate.
 *
 * A record that cannot apply is skipped and counted, never fatal: a line that does not parse (the torn
 * last line of a kill -9) or is too long, a second submit or end of the same job, a start or leave of a
 * job that has no submit or has ended. An end without a submit is kept: it is history all the same.
 */

/* Longer lines are no record this daemon ever wrote; they are skipped without being held in memory. */
#define STORE_IMPORT_LINE_MAX (1024 * 1024)
/* rules.json holds a few rules; anything near this is not one of ours. */
#define STORE_IMPORT_RULES_MAX (16 * 1024 * 1024)

typedef struct ImportCtx {
        Store *s;
        StoreState *state;
        uint32_t max_id;
} ImportCtx;

static json_object *get(json_object *o, const char *key) {
        json_object *v;
        return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *get_str(json_object *o, const char *key) {
        json_object *v = get(o, key);
        return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static uint64_t get_u64(json_object *o, const char *key) {
        json_object *v = get(o, key);
        return v && json_object_is_type(v, json_type_int) ? json_object_get_uint64(v) : 0;
}

/* A JSON array of strings as a strv; -EINVAL for anything else, an absent one is empty. */
static int json_strv(json_object *a, char ***ret) {
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));

        if (!l)
                return -ENOMEM;
        if (a && !json_object_is_type(a, json_type_array))
                return -EINVAL;
        for (size_t i = 0; a && i < json_object_array_length(a); i++) {
                json_object *v = json_object_array_get_idx(a, i);
                if (!json_object_is_type(v, json_type_string))
                        return -EINVAL;
                if (strv_extend(&l, json_object_get_string(v)) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int import_submit(ImportCtx *c, json_object *o, uint32_t id) {
        _cleanup_strv_free_ char **images = NULL;
        json_object *opts = get(o, "options");
        int r;

        r = json_strv(get(o, "images"), &images);
        if (r < 0)
                return r;
        if (opts && !json_object_is_type(opts, json_type_object))
                return -EINVAL;
        StoreJobSubmit j = {
                .id = id,
                .owner = (uint32_t)get_u64(o, "owner"),
                .submit_usec = get_u64(o, "submit-time"),
                .target = get_str(o, "target"),
                .options_json = opts ? json_object_to_json_string_ext(opts, JSON_C_TO_STRING_PLAIN) : "{}",
                .image_hashes = images,
                .rule_id = (uint32_t)get_u64(o, "rule"),
        };
        return store_apply_job_submit(c->s, &j);
}

static int import_end(ImportCtx *c, json_object *o, uint32_t id) {
        json_object *interrupted = get(o, "interrupted");
        StoreJobEnd j = {
                .id = id,
                .result = get_str(o, "result"),
                .error = get_str(o, "error"),
                .port = get_str(o, "port"),
                .serial = get_str(o, "serial"),
                .station = get_str(o, "station"),
                .target = get_str(o, "target"),
                .image_sha256 = get_str(o, "image-sha256"),
                .submit_usec = get_u64(o, "submit-time"),
                .start_usec = get_u64(o, "start-time"),
                .end_usec = get(o, "end-time") ? get_u64(o, "end-time") : get_u64(o, "time"),
                .bytes = get_u64(o, "bytes"),
                .dropped_segments = get_u64(o, "dropped-segments"),
                .interrupted = interrupted && json_object_get_boolean(interrupted),
                .rule_id = (uint32_t)get_u64(o, "rule"),
        };
        if (!j.result)
                return -EINVAL;
        return store_apply_job_end(c->s, &j);
}

/* What a record that cannot apply gets from the store: skipped, the import goes on. */
static bool import_refused(int r) {
        return r == -EEXIST || r == -ENOENT || r == -EALREADY || r == -EINVAL;
}

/* Applies one record: 1 if it applied, 0 if it was skipped, negative errno if the import must stop. */
static int import_record(ImportCtx *c, json_object *o) {
        const char *event = get_str(o, "event");
        uint64_t id64 = get_u64(o, "id");
        uint32_t id = (uint32_t)id64;
        int r;

        if (!event || id64 == 0 || id64 > UINT32_MAX)
                return 0;
        c->max_id = MAX(c->max_id, id);
        if (streq(event, "submit"))
                r = import_submit(c, o, id);
        else if (streq(event, "start"))
                r = store_apply_job_start(c->s, &(StoreJobStart){.id = id,
                                                                 .start_usec = get_u64(o, "time"),
                                                                 .port = get_str(o, "port"),
                                                                 .serial = get_str(o, "serial"),
                                                                 .station = get_str(o, "station")});
        else if (streq(event, "leave"))
                r = store_apply_job_leave(c->s, id, get_u64(o, "time"));
        else if (streq(event, "end"))
                r = import_end(c, o, id);
        else
                return 0;
        if (import_refused(r))
                return 0;
        return r < 0 ? r : 1;
}

/*
 * Reads the next line into buf (at most STORE_IMPORT_LINE_MAX bytes); a longer line is consumed and
 * reported as -E2BIG. Returns the length, 0 at the end of the file.
 */
static ssize_t import_read_line(FILE *f, char *buf, size_t size) {
        size_t len;

        if (!fgets(buf, (int)size, f))
                return ferror(f) ? -EIO : 0;
        len = strlen(buf);
        if (len + 1 < size || buf[len - 1] == '\n')
                return (ssize_t)len;
        while (fgets(buf, (int)size, f)) {
                len = strlen(buf);
                if (len > 0 && buf[len - 1] == '\n')
                        break;
        }
        return ferror(f) ? -EIO : -E2BIG;
}

/* Parses one line: NULL when it is not one complete JSON object. */
static json_object *import_parse(json_tokener *tok, const char *line, size_t len) {
        json_object *o;

        json_tokener_reset(tok);
        o = json_tokener_parse_ex(tok, line, (int)len);
        if (!o || json_tokener_get_error(tok) != json_tokener_success ||
            !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static int import_lines(ImportCtx *c, FILE *f) {
        _cleanup_free_ char *buf = malloc(STORE_IMPORT_LINE_MAX + 2);
        json_tokener *tok = json_tokener_new();
        ssize_t n;
        int r = 0;

        if (!buf || !tok) {
                json_tokener_free(tok);
                return -ENOMEM;
        }
        while ((n = import_read_line(f, buf, STORE_IMPORT_LINE_MAX + 2)) != 0) {
                json_object *o = n > 0 ? import_parse(tok, buf, (size_t)n) : NULL;

                if (n == -EIO) {
                        r = -EIO;
                        break;
                }
                r = o ? import_record(c, o) : 0;
                json_object_put(o);
                if (r < 0)
                        break;
                if (r == 0)
                        c->state->import_skipped_lines++;
        }
        json_tokener_free(tok);
        if (r >= 0 && c->max_id > 0)
                r = store_apply_job_id_seen(c->s, c->max_id);
        return r < 0 ? r : 0;
}

static int count_jobs(Store *s, uint64_t *ret) {
        sqlite3_stmt *st = NULL;
        int r = sqlite3_prepare_v2(s->db, "SELECT COUNT(*) FROM jobs", -1, &st, NULL);

        if (r == SQLITE_OK && (r = sqlite3_step(st)) == SQLITE_ROW)
                *ret = (uint64_t)sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return r == SQLITE_ROW ? 0 : store_errno(r);
}

/* Runs fn in one transaction, then renames path to path.imported. */
static int import_file(Store *s, const char *path, int (*fn)(ImportCtx *c, FILE *f), ImportCtx *c) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        _cleanup_free_ char *done = NULL;
        int r;

        if (!f)
                return errno == ENOENT ? 0 : -errno;
        if (asprintf(&done, "%s.imported", path) < 0)
                return -ENOMEM;
        r = store_exec(s->db, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        r = fn(c, f);
        if (r >= 0)
                r = store_exec(s->db, "COMMIT");
        if (r < 0) {
                (void)store_exec(s->db, "ROLLBACK");
                return r;
        }
        return rename(path, done) < 0 ? -errno : 1;
}

static void import_error(char **ret_error, const char *path, const char *what, int r) {
        store_set_error(ret_error, "%s: failed to import %s: %s", path, what, strerror(-r));
}

int store_import_jobs(Store *s, StoreState *state, char **ret_error) {
        _cleanup_free_ char *path = NULL;
        ImportCtx c = {.s = s, .state = state};
        uint64_t before = 0, after = 0;
        int r;

        if (asprintf(&path, "%s/jobs.jsonl", s->state_dir) < 0)
                return -ENOMEM;
        if (access(path, F_OK) < 0)
                return 0;
        r = count_jobs(s, &before);
        if (r >= 0)
                r = import_file(s, path, import_lines, &c);
        if (r > 0)
                r = count_jobs(s, &after);
        else
                after = before;
        if (r < 0) {
                import_error(ret_error, path, "JSON lines of job events", r);
                return r;
        }
        state->imported_jobs = after - before;
        return 0;
}

static int import_rule(ImportCtx *c, json_object *o) {
        _cleanup_strv_free_ char **images = NULL, **flashed = NULL;
        json_object *opts = get(o, "options");
        uint64_t id = get_u64(o, "id");
        int r;

        if (!json_object_is_type(o, json_type_object) || id == 0 || id > UINT32_MAX || !opts ||
            !json_object_is_type(opts, json_type_object) || !get(o, "images"))
                return 0;
        r = json_strv(get(o, "images"), &images);
        if (r >= 0)
                r = json_strv(get(o, "flashed"), &flashed);
        if (r < 0)
                return r == -EINVAL ? 0 : r;
        StoreRule rule = {
                .id = (uint32_t)id,
                .owner = (uint32_t)get_u64(o, "owner"),
                .options_json = (char *)json_object_to_json_string_ext(opts, JSON_C_TO_STRING_PLAIN),
                .image_hashes = images,
                .flashed = flashed,
        };
        r = store_apply_rule_add(c->s, &rule);
        return import_refused(r) ? 0 : r < 0 ? r : 1;
}

static int import_rules(ImportCtx *c, FILE *f) {
        _cleanup_free_ char *text = NULL;
        json_object *all;
        struct stat stat_buf;
        size_t n;
        int r = 0;

        if (fstat(fileno(f), &stat_buf) < 0)
                return -errno;
        if (stat_buf.st_size > STORE_IMPORT_RULES_MAX)
                return -EFBIG;
        text = malloc((size_t)stat_buf.st_size + 1);
        if (!text)
                return -ENOMEM;
        n = fread(text, 1, (size_t)stat_buf.st_size, f);
        if (ferror(f))
                return -EIO;
        text[n] = 0;
        all = json_tokener_parse(text);
        if (!all || !json_object_is_type(all, json_type_array)) {
                json_object_put(all);
                return -EBADMSG;
        }
        for (size_t i = 0; r >= 0 && i < json_object_array_length(all); i++) {
                r = import_rule(c, json_object_array_get_idx(all, i));
                if (r == 0)
                        c->state->import_skipped_lines++;
                else if (r > 0)
                        c->state->imported_rules++;
        }
        json_object_put(all);
        return r < 0 ? r : 0;
}

int store_import_rules(Store *s, StoreState *state, char **ret_error) {
        _cleanup_free_ char *path = NULL;
        ImportCtx c = {.s = s, .state = state};
        int r;

        if (asprintf(&path, "%s/rules.json", s->state_dir) < 0)
                return -ENOMEM;
        r = import_file(s, path, import_rules, &c);
        if (r < 0) {
                state->imported_rules = 0;
                import_error(ret_error, path, "a JSON array of rules", r);
                return r;
        }
        return 0;
}
