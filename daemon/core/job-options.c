/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job-options.h"
#include "log.h"
#include "macro.h"
#include "match.h"
#include "parts.h"

#define ALL    (OPTION_SCOPE_SUBMIT | OPTION_SCOPE_INSPECT | OPTION_SCOPE_RULE)
#define SI     (OPTION_SCOPE_SUBMIT | OPTION_SCOPE_INSPECT)
#define OFF(f) offsetof(JobOptions, f)

static const OptionDef option_table[] = {
        {"port", OPT_STRING, SI, OFF(port)},
        {"serial", OPT_STRING, SI, OFF(serial)},
        {"station", OPT_STRING, SI, OFF(station)},
        {"any", OPT_BOOL, OPTION_SCOPE_SUBMIT, OFF(any)},
        {"part", OPT_STRING, SI, OFF(part)},
        {"wait", OPT_BOOL, OPTION_SCOPE_SUBMIT, OFF(wait)},
        {"timeout", OPT_U64, OPTION_SCOPE_SUBMIT, OFF(timeout_sec)},
        {"strict", OPT_BOOL, ALL, OFF(strict)},
        {"verify", OPT_TRISTATE, ALL, OFF(verify)},
        {"leave", OPT_BOOL, ALL, OFF(leave)},
        {"mass-erase", OPT_BOOL, ALL, OFF(mass_erase)},
        {"skip-identical", OPT_BOOL, ALL, OFF(skip_identical)},
        {"skip-blank", OPT_BOOL, ALL, OFF(skip_blank)},
        {"allow-option-bytes", OPT_BOOL, ALL, OFF(allow_option_bytes)},
        {"base", OPT_ADDRESS, ALL, OFF(base)},
        {"patches", OPT_PATCHES, ALL, OFF(patches)},
        {"patch-erase", OPT_BOOL, ALL, OFF(patch_erase)},
        {"layouts", OPT_STRV, OPTION_SCOPE_INSPECT, OFF(layouts)},
        {"match-port", OPT_STRING, OPTION_SCOPE_RULE, OFF(match_port)},
        {"match-serial", OPT_STRING, OPTION_SCOPE_RULE, OFF(match_serial)},
        {"match-station", OPT_STRING, OPTION_SCOPE_RULE, OFF(match_station)},
        {"match-part", OPT_STRING, OPTION_SCOPE_RULE, OFF(match_part)},
        {"once", OPT_BOOL, OPTION_SCOPE_RULE, OFF(once)},
        {"origin", OPT_STRING, OPTION_SCOPE_SUBMIT | OPTION_SCOPE_RULE, OFF(origin)},
        {"unprotect", OPT_BOOL, ALL, OFF(unprotect)},
        {"lock", OPT_BOOL, ALL, OFF(lock)},
        {"allow-permanent-lock", OPT_BOOL, ALL, OFF(allow_permanent_lock)},
        {"option-bytes", OPT_STRING, ALL, OFF(option_bytes)},
};

void job_options_init(JobOptions *o) {
        *o = (JobOptions){.verify = -1, .leave = true, .once = true};
}

void job_options_done(JobOptions *o) {
        for (size_t i = 0; i < ELEMENTSOF(option_table); i++) {
                void *p = (uint8_t *)o + option_table[i].offset;
                if (option_table[i].kind == OPT_STRING)
                        free(*(char **)p);
                else if (option_table[i].kind == OPT_STRV || option_table[i].kind == OPT_PATCHES)
                        strv_free(*(char ***)p);
        }
        job_options_init(o);
}

const OptionDef *job_option_find(const char *key) {
        for (size_t i = 0; i < ELEMENTSOF(option_table); i++)
                if (streq(option_table[i].key, key))
                        return &option_table[i];
        return NULL;
}

const OptionDef *job_option_by_index(size_t i) {
        return i < ELEMENTSOF(option_table) ? &option_table[i] : NULL;
}

static int set_error(char **ret_error, const char *fmt, ...) _printf_(2, 3);
static int set_error(char **ret_error, const char *fmt, ...) {
        va_list ap;

        if (ret_error) {
                free(*ret_error);
                va_start(ap, fmt);
                if (vasprintf(ret_error, fmt, ap) < 0)
                        *ret_error = NULL;
                va_end(ap);
        }
        return -EINVAL;
}

/* Each patch is parsed and kept in its canonical spelling: records and replies show one form. */
static int job_option_set_patches(const OptionDef *d, JobOptions *o, char *const *l, char **ret_error) {
        _cleanup_strv_free_ char **canonical = calloc(1, sizeof(char *));

        if (!canonical)
                return -ENOMEM;
        if (strv_length(l) > PATCH_MAX)
                return set_error(ret_error, "Option '%s' has more than %d patches.", d->key, PATCH_MAX);
        for (char *const *e = l; e && *e; e++) {
                DfuError error = DFU_ERROR_INIT;
                _cleanup_free_ char *s = NULL;
                Patch p;

                if (patch_parse(*e, &p, &error) < 0)
                        return set_error(ret_error, "Option '%s': %s", d->key, dfu_error_message(&error));
                s = patch_to_string(&p);
                if (!s || strv_extend(&canonical, s) < 0)
                        return -ENOMEM;
        }
        strv_free(o->patches);
        o->patches = canonical[0] ? TAKE_PTR(canonical) : NULL;
        return 0;
}

int job_options_patches(const JobOptions *o, Patch **ret, size_t *ret_n) {
        size_t n = MIN(strv_length(o->patches), (size_t)PATCH_MAX);
        _cleanup_free_ Patch *p = calloc(MAX(n, 1u), sizeof(Patch));

        if (!p)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (patch_parse(o->patches[i], &p[i], NULL) < 0)
                        return -EBADMSG;
        *ret = TAKE_PTR(p);
        *ret_n = n;
        return 0;
}

int job_options_sequences(const JobOptions *o, char ***ret) {
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
        _cleanup_free_ Patch *patches = NULL;
        size_t n;
        int r;

        if (!l)
                return -ENOMEM;
        r = job_options_patches(o, &patches, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                if (!strv_contains(l, patches[i].sequence) && strv_extend(&l, patches[i].sequence) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(l);
        return 0;
}

int job_option_set(const OptionDef *d, JobOptions *o, const OptionValue *v, char **ret_error) {
        void *p = (uint8_t *)o + d->offset;

        switch (d->kind) {
        case OPT_STRING:
                if (!v->string || !*v->string)
                        return set_error(ret_error, "Option '%s' must not be empty.", d->key);
                if (strlen(v->string) > JOB_OPTION_STRING_MAX)
                        return set_error(ret_error, "Option '%s' is longer than %d characters.", d->key,
                                         JOB_OPTION_STRING_MAX);
                free(*(char **)p);
                *(char **)p = strdup(v->string);
                return *(char **)p ? 0 : -ENOMEM;
        case OPT_BOOL:
                *(bool *)p = v->boolean;
                return 0;
        case OPT_TRISTATE:
                *(int *)p = v->boolean;
                return 0;
        case OPT_U64:
                *(uint64_t *)p = v->u64;
                return 0;
        case OPT_ADDRESS:
                if (v->u64 > UINT32_MAX)
                        return set_error(ret_error, "Option '%s' must be a 32-bit address, got 0x%llx.",
                                         d->key, (unsigned long long)v->u64);
                o->base = (uint32_t)v->u64;
                o->has_base = true;
                return 0;
        case OPT_STRV:
                if (strv_length(v->strv) > JOB_OPTION_STRV_MAX)
                        return set_error(ret_error, "Option '%s' has more than %d entries.", d->key,
                                         JOB_OPTION_STRV_MAX);
                for (char *const *e = v->strv; e && *e; e++)
                        if (strlen(*e) > JOB_OPTION_STRING_MAX)
                                return set_error(ret_error,
                                                 "Option '%s' has an entry longer than %d characters.",
                                                 d->key, JOB_OPTION_STRING_MAX);
                strv_free(*(char ***)p);
                *(char ***)p = strv_copy(v->strv);
                return *(char ***)p ? 0 : -ENOMEM;
        case OPT_PATCHES:
                return job_option_set_patches(d, o, v->strv, ret_error);
        }
        return -EINVAL;
}

void job_option_get(const OptionDef *d, const JobOptions *o, OptionValue *ret) {
        const void *p = (const uint8_t *)o + d->offset;

        *ret = (OptionValue){};
        switch (d->kind) {
        case OPT_STRING:
                ret->string = *(char *const *)p;
                break;
        case OPT_BOOL:
                ret->boolean = *(const bool *)p;
                break;
        case OPT_TRISTATE:
                ret->boolean = *(const int *)p > 0;
                break;
        case OPT_U64:
                ret->u64 = *(const uint64_t *)p;
                break;
        case OPT_ADDRESS:
                ret->u64 = o->base;
                break;
        case OPT_STRV:
        case OPT_PATCHES:
                ret->strv = *(char **const *)p;
                break;
        }
}

int job_options_validate(const JobOptions *o, char **ret_error) {
        const struct {
                const char *key, *pattern;
        } globs[] = {
                {"port", o->port},
                {"serial", o->serial},
                {"station", o->station},
                {"match-port", o->match_port},
                {"match-serial", o->match_serial},
                {"match-station", o->match_station},
        };
        unsigned n_targets = !!o->port + !!o->serial + !!o->station + o->any;

        if (n_targets > 1)
                return set_error(
                        ret_error,
                        "Options 'port', 'serial', 'station' and 'any' exclude each other; name one.");
        if (o->part && !part_find(o->part))
                return set_error(ret_error, "Option 'part': unknown part '%s'.", o->part);
        if (o->match_part && !part_find(o->match_part))
                return set_error(ret_error, "Option 'match-part': unknown part '%s'.", o->match_part);
        for (size_t i = 0; i < ELEMENTSOF(globs); i++)
                if (globs[i].pattern && match_glob_valid(globs[i].pattern) < 0)
                        return set_error(ret_error, "Option '%s': malformed pattern '%s' (an unclosed '[').",
                                         globs[i].key, globs[i].pattern);
        return 0;
}

bool job_option_is_default(const OptionDef *d, const JobOptions *o) {
        JobOptions def;
        job_options_init(&def);
        const void *p = (const uint8_t *)o + d->offset, *q = (const uint8_t *)&def + d->offset;

        switch (d->kind) {
        case OPT_STRING:
                return !*(char *const *)p;
        case OPT_STRV:
        case OPT_PATCHES:
                return !*(char **const *)p;
        case OPT_BOOL:
                return *(const bool *)p == *(const bool *)q;
        case OPT_TRISTATE:
                return *(const int *)p < 0;
        case OPT_U64:
                return *(const uint64_t *)p == 0;
        case OPT_ADDRESS:
                return !o->has_base;
        }
        return true;
}

int job_options_to_json(const JobOptions *o, json_object **ret) {
        json_object *j = json_object_new_object();
        if (!j)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(option_table); i++) {
                const OptionDef *d = &option_table[i];
                const void *p = (const uint8_t *)o + d->offset;
                json_object *v = NULL;

                if (job_option_is_default(d, o))
                        continue;
                switch (d->kind) {
                case OPT_STRING:
                        v = json_object_new_string(*(char *const *)p);
                        break;
                case OPT_BOOL:
                        v = json_object_new_boolean(*(const bool *)p);
                        break;
                case OPT_TRISTATE:
                        v = json_object_new_boolean(*(const int *)p > 0);
                        break;
                case OPT_U64:
                        v = json_object_new_uint64(*(const uint64_t *)p);
                        break;
                case OPT_ADDRESS:
                        v = json_object_new_uint64(o->base);
                        break;
                case OPT_STRV:
                case OPT_PATCHES:
                        v = json_object_new_array();
                        for (char **s = *(char **const *)p; v && s && *s; s++)
                                json_object_array_add(v, json_object_new_string(*s));
                        break;
                }
                if (!v) {
                        json_object_put(j);
                        return -ENOMEM;
                }
                json_object_object_add(j, d->key, v);
        }
        *ret = j;
        return 0;
}

int job_options_from_json(json_object *j, JobOptions *o) {
        if (!json_object_is_type(j, json_type_object))
                return -EBADMSG;
        json_object_object_foreach(j, key, v) {
                const OptionDef *d = job_option_find(key);
                void *p;
                if (!d)
                        continue; /* written by a newer version: ignore rather than lose the job */
                p = (uint8_t *)o + d->offset;
                switch (d->kind) {
                case OPT_STRING:
                        free(*(char **)p);
                        *(char **)p = strdup(json_object_get_string(v));
                        if (!*(char **)p)
                                return -ENOMEM;
                        break;
                case OPT_BOOL:
                        *(bool *)p = json_object_get_boolean(v);
                        break;
                case OPT_TRISTATE:
                        *(int *)p = json_object_get_boolean(v);
                        break;
                case OPT_U64:
                        *(uint64_t *)p = json_object_get_uint64(v);
                        break;
                case OPT_ADDRESS:
                        o->base = (uint32_t)json_object_get_uint64(v);
                        o->has_base = true;
                        break;
                case OPT_STRV:
                case OPT_PATCHES:
                        for (size_t k = 0; k < json_object_array_length(v); k++)
                                if (strv_extend((char ***)p,
                                                json_object_get_string(json_object_array_get_idx(v, k))) < 0)
                                        return -ENOMEM;
                        break;
                }
        }
        return 0;
}

int job_options_to_json_string(const JobOptions *o, char **ret) {
        json_object *j = NULL;
        int r = job_options_to_json(o, &j);
        if (r < 0)
                return r;
        *ret = strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
        json_object_put(j);
        return *ret ? 0 : -ENOMEM;
}

int job_options_from_json_string(const char *s, JobOptions *ret) {
        json_object *j = json_tokener_parse(s);
        int r;

        if (!j)
                return -EBADMSG;
        r = job_options_from_json(j, ret);
        json_object_put(j);
        return r;
}

int job_options_copy(const JobOptions *from, JobOptions *to) {
        json_object *j = NULL;
        int r = job_options_to_json(from, &j);
        if (r < 0)
                return r;
        r = job_options_from_json(j, to);
        json_object_put(j);
        return r;
}

char *job_options_match_string(const JobOptions *o) {
        const struct {
                const char *key, *value;
        } m[] = {{"port", o->match_port},
                 {"serial", o->match_serial},
                 {"station", o->match_station},
                 {"part", o->match_part}};
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));

        for (size_t i = 0; l && i < ELEMENTSOF(m); i++)
                if (m[i].value) {
                        _cleanup_free_ char *kv = NULL;
                        if (asprintf(&kv, "%s=%s", m[i].key, m[i].value) < 0 || strv_extend(&l, kv) < 0)
                                return NULL;
                }
        if (!l)
                return NULL;
        return l[0] ? strv_join(l, " ") : strdup("any");
}

char *job_options_target(const JobOptions *o) {
        char *s = NULL;

        if (o->port)
                return asprintf(&s, "port=%s", o->port) < 0 ? NULL : s;
        if (o->serial)
                return asprintf(&s, "serial=%s", o->serial) < 0 ? NULL : s;
        if (o->station)
                return asprintf(&s, "station=%s", o->station) < 0 ? NULL : s;
        if (o->any)
                return strdup("any");
        return NULL;
}

void job_options_sanitize(const JobOptions *o, SanitizeOptions *ret) {
        *ret = (SanitizeOptions){
                .strict = o->strict,
                .allow_option_bytes = o->allow_option_bytes,
                .alt_setting = 0,
                .all_alt_settings = o->allow_option_bytes,
        };
}

void job_options_plan(const JobOptions *o, bool default_verify, PlanOptions *ret) {
        *ret = (PlanOptions){
                .mass_erase = o->mass_erase,
                .verify = o->verify < 0 ? default_verify : o->verify > 0,
                .leave = o->leave,
                .skip = (o->skip_identical ? PLAN_SKIP_IDENTICAL : 0) |
                        (o->skip_blank ? PLAN_SKIP_BLANK : 0),
                .alt_setting = 0,
        };
}
