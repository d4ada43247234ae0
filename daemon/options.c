/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "options.h"
#include "parts.h"

typedef enum OptionKind {
        OPT_STRING,
        OPT_BOOL,
        OPT_TRISTATE,
        OPT_U64,
        OPT_ADDRESS,
        OPT_STRV,
} OptionKind;

typedef struct OptionDef {
        const char *key;
        OptionKind kind;
        unsigned scope;
        size_t offset;
} OptionDef;

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
        {"layouts", OPT_STRV, OPTION_SCOPE_INSPECT, OFF(layouts)},
        {"match-port", OPT_STRING, OPTION_SCOPE_RULE, OFF(match_port)},
        {"match-serial", OPT_STRING, OPTION_SCOPE_RULE, OFF(match_serial)},
        {"match-station", OPT_STRING, OPTION_SCOPE_RULE, OFF(match_station)},
        {"match-part", OPT_STRING, OPTION_SCOPE_RULE, OFF(match_part)},
        {"once", OPT_BOOL, OPTION_SCOPE_RULE, OFF(once)},
};

static const char *kind_signature(OptionKind k) {
        switch (k) {
        case OPT_STRING:
                return "s";
        case OPT_BOOL:
        case OPT_TRISTATE:
                return "b";
        case OPT_U64:
        case OPT_ADDRESS:
                return "t";
        case OPT_STRV:
                return "as";
        }
        return "";
}

void job_options_init(JobOptions *o) {
        *o = (JobOptions){.verify = -1, .leave = true, .once = true};
}

void job_options_done(JobOptions *o) {
        for (size_t i = 0; i < ELEMENTSOF(option_table); i++) {
                void *p = (uint8_t *)o + option_table[i].offset;
                if (option_table[i].kind == OPT_STRING)
                        free(*(char **)p);
                else if (option_table[i].kind == OPT_STRV)
                        strv_free(*(char ***)p);
        }
        job_options_init(o);
}

static const OptionDef *option_find(const char *key) {
        for (size_t i = 0; i < ELEMENTSOF(option_table); i++)
                if (streq(option_table[i].key, key))
                        return &option_table[i];
        return NULL;
}

static int option_read_value(sd_bus_message *m, const OptionDef *d, JobOptions *o, sd_bus_error *error) {
        void *p = (uint8_t *)o + d->offset;
        const char *s;
        uint64_t u;
        int b, r;

        switch (d->kind) {
        case OPT_STRING:
                r = sd_bus_message_read(m, "s", &s);
                if (r < 0)
                        return r;
                if (!*s)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Option '%s' must not be empty.", d->key);
                free(*(char **)p);
                *(char **)p = strdup(s);
                return *(char **)p ? 0 : -ENOMEM;
        case OPT_BOOL:
        case OPT_TRISTATE:
                r = sd_bus_message_read(m, "b", &b);
                if (r < 0)
                        return r;
                if (d->kind == OPT_BOOL)
                        *(bool *)p = b;
                else
                        *(int *)p = !!b;
                return 0;
        case OPT_U64:
        case OPT_ADDRESS:
                r = sd_bus_message_read(m, "t", &u);
                if (r < 0)
                        return r;
                if (d->kind == OPT_U64) {
                        *(uint64_t *)p = u;
                        return 0;
                }
                if (u > UINT32_MAX)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Option 'base' must be a 32-bit address, got 0x%llx.",
                                                 (unsigned long long)u);
                o->base = (uint32_t)u;
                o->has_base = true;
                return 0;
        case OPT_STRV:
                strv_free(*(char ***)p);
                *(char ***)p = NULL;
                return sd_bus_message_read_strv(m, (char ***)p);
        }
        return -EINVAL;
}

int bus_message_read_dict(sd_bus_message *m, BusDictReadFn read, void *userdata, sd_bus_error *error) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key, *contents = NULL;

                r = sd_bus_message_read(m, "s", &key);
                if (r >= 0)
                        r = sd_bus_message_peek_type(m, NULL, &contents);
                if (r >= 0)
                        r = sd_bus_message_enter_container(m, 'v', contents);
                if (r >= 0)
                        r = read(m, key, contents, userdata, error);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

int bus_message_open_dict_entry(sd_bus_message *m, const char *key, const char *signature) {
        int r;

        r = sd_bus_message_open_container(m, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", key);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', signature);
        return r;
}

int bus_message_close_dict_entry(sd_bus_message *m) {
        int r;

        r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

typedef struct OptionsParse {
        OptionScope scope;
        JobOptions *options;
} OptionsParse;

static int option_read(sd_bus_message *m, const char *key, const char *signature, void *userdata,
                       sd_bus_error *error) {
        OptionsParse *p = userdata;
        const OptionDef *d = option_find(key);

        if (!d || !(d->scope & p->scope))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unknown option '%s'.", key);
        if (!streq(signature, kind_signature(d->kind)))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Option '%s' must have type '%s', got '%s'.", key,
                                         kind_signature(d->kind), signature);
        return option_read_value(m, d, p->options, error);
}

int job_options_parse(sd_bus_message *m, OptionScope scope, JobOptions *ret, sd_bus_error *error) {
        int r;

        r = bus_message_read_dict(m, option_read, &(OptionsParse){scope, ret}, error);
        if (r < 0)
                return r;

        unsigned n_targets = !!ret->port + !!ret->serial + !!ret->station + ret->any;
        if (n_targets > 1)
                return sd_bus_error_setf(
                        error, SD_BUS_ERROR_INVALID_ARGS,
                        "Options 'port', 'serial', 'station' and 'any' exclude each other; name one.");
        if (ret->part && !part_find(ret->part))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Option 'part': unknown part '%s'.", ret->part);
        if (ret->match_part && !part_find(ret->match_part))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Option 'match-part': unknown part '%s'.", ret->match_part);
        return 0;
}

static bool option_is_default(const OptionDef *d, const JobOptions *o) {
        JobOptions def;
        job_options_init(&def);
        const void *p = (const uint8_t *)o + d->offset, *q = (const uint8_t *)&def + d->offset;

        switch (d->kind) {
        case OPT_STRING:
                return !*(char *const *)p;
        case OPT_STRV:
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

                if (option_is_default(d, o))
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
                const OptionDef *d = option_find(key);
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
                        for (size_t k = 0; k < json_object_array_length(v); k++)
                                if (strv_extend((char ***)p,
                                                json_object_get_string(json_object_array_get_idx(v, k))) < 0)
                                        return -ENOMEM;
                        break;
                }
        }
        return 0;
}

int job_options_append(sd_bus_message *m, const JobOptions *o) {
        int r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(option_table); i++) {
                const OptionDef *d = &option_table[i];
                const void *p = (const uint8_t *)o + d->offset;

                if (option_is_default(d, o))
                        continue;
                switch (d->kind) {
                case OPT_STRING:
                        r = sd_bus_message_append(m, "{sv}", d->key, "s", *(char *const *)p);
                        break;
                case OPT_BOOL:
                        r = sd_bus_message_append(m, "{sv}", d->key, "b", (int)*(const bool *)p);
                        break;
                case OPT_TRISTATE:
                        r = sd_bus_message_append(m, "{sv}", d->key, "b", *(const int *)p > 0);
                        break;
                case OPT_U64:
                        r = sd_bus_message_append(m, "{sv}", d->key, "t", *(const uint64_t *)p);
                        break;
                case OPT_ADDRESS:
                        r = sd_bus_message_append(m, "{sv}", d->key, "t", (uint64_t)o->base);
                        break;
                case OPT_STRV:
                        r = bus_message_open_dict_entry(m, d->key, "as");
                        if (r >= 0)
                                r = sd_bus_message_append_strv(m, *(char **const *)p);
                        if (r >= 0)
                                r = bus_message_close_dict_entry(m);
                        break;
                }
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
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
