/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "bus-dict.h"
#include "macro.h"

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
        case OPT_PATCHES:
                return "a(uss)";
        }
        return "";
}

/* a(uss): (address, format, sequence) each, turned into the text form the core parses and checks. */
static int patches_read(sd_bus_message *m, char ***ret) {
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
        const char *format, *sequence;
        uint32_t address;
        int r;

        if (!l)
                return -ENOMEM;
        r = sd_bus_message_enter_container(m, 'a', "(uss)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(m, "(uss)", &address, &format, &sequence)) > 0) {
                _cleanup_free_ char *s = NULL;
                /* Bounded here too: the core refuses more than PATCH_MAX, with a message. */
                if (strv_length(l) > PATCH_MAX)
                        break;
                if (asprintf(&s, "0x%08" PRIX32 ":%.32s:%.80s", address, format, sequence) < 0 ||
                    strv_extend(&l, s) < 0)
                        return -ENOMEM;
        }
        if (r < 0)
                return r;
        if (strv_length(l) > PATCH_MAX)
                return -E2BIG;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

static int patches_append(sd_bus_message *m, const char *key, char *const *patches) {
        int r = bus_message_open_dict_entry(m, key, "a(uss)");

        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(uss)");
        for (char *const *e = patches; r >= 0 && e && *e; e++) {
                char format[16];
                Patch p;

                if (patch_parse(*e, &p, NULL) < 0)
                        continue;
                patch_format_to_string(p.format, p.width, format);
                r = sd_bus_message_append(m, "(uss)", p.address, format, p.sequence);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = bus_message_close_dict_entry(m);
        return r;
}

typedef struct OptionsRead {
        OptionScope scope;
        JobOptions *options;
        BusDictReadFn extra;
        void *extra_userdata;
} OptionsRead;

static int option_read(sd_bus_message *m, const char *key, const char *signature, void *userdata,
                       sd_bus_error *error) {
        OptionsRead *p = userdata;
        const OptionDef *d = job_option_find(key);
        _cleanup_strv_free_ char **strv = NULL;
        _cleanup_free_ char *message = NULL;
        OptionValue v = {};
        int b = 0, r;

        if (p->extra) {
                r = p->extra(m, key, signature, p->extra_userdata, error);
                if (r != 0)
                        return r;
        }
        if (!d || !(d->scope & p->scope))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unknown option '%s'.", key);
        if (!streq(signature, kind_signature(d->kind)))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Option '%s' must have type '%s', got '%s'.", key,
                                         kind_signature(d->kind), signature);
        switch (d->kind) {
        case OPT_STRING:
                r = sd_bus_message_read(m, "s", &v.string);
                break;
        case OPT_BOOL:
        case OPT_TRISTATE:
                r = sd_bus_message_read(m, "b", &b);
                v.boolean = b;
                break;
        case OPT_U64:
        case OPT_ADDRESS:
                r = sd_bus_message_read(m, "t", &v.u64);
                break;
        case OPT_STRV:
                r = sd_bus_message_read_strv(m, &strv);
                v.strv = strv;
                break;
        case OPT_PATCHES:
                r = patches_read(m, &strv);
                if (r == -E2BIG)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Option '%s' has more than %d patches.", key, PATCH_MAX);
                v.strv = strv;
                break;
        default:
                r = -EINVAL;
        }
        if (r < 0)
                return r;
        r = job_option_set(d, p->options, &v, &message);
        if (r == -EINVAL)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "%s",
                                         message ? message : "Invalid option.");
        return r;
}

int bus_job_options_read(sd_bus_message *m, OptionScope scope, JobOptions *ret, sd_bus_error *error) {
        return bus_job_options_read_extra(m, scope, ret, NULL, NULL, error);
}

int bus_job_options_read_extra(sd_bus_message *m, OptionScope scope, JobOptions *ret, BusDictReadFn extra,
                               void *extra_userdata, sd_bus_error *error) {
        _cleanup_free_ char *message = NULL;
        int r;

        r = bus_message_read_dict(m, option_read, &(OptionsRead){scope, ret, extra, extra_userdata}, error);
        if (r < 0)
                return r;
        r = job_options_validate(ret, &message);
        if (r == -EINVAL)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "%s",
                                         message ? message : "Invalid options.");
        return r;
}

int bus_job_options_append(sd_bus_message *m, const JobOptions *o) {
        const OptionDef *d;
        int r = sd_bus_message_open_container(m, 'a', "{sv}");

        for (size_t i = 0; r >= 0 && (d = job_option_by_index(i)); i++) {
                OptionValue v;

                if (job_option_is_default(d, o))
                        continue;
                job_option_get(d, o, &v);
                switch (d->kind) {
                case OPT_STRING:
                        r = sd_bus_message_append(m, "{sv}", d->key, "s", v.string);
                        break;
                case OPT_BOOL:
                case OPT_TRISTATE:
                        r = sd_bus_message_append(m, "{sv}", d->key, "b", (int)v.boolean);
                        break;
                case OPT_U64:
                case OPT_ADDRESS:
                        r = sd_bus_message_append(m, "{sv}", d->key, "t", v.u64);
                        break;
                case OPT_STRV:
                        r = bus_message_open_dict_entry(m, d->key, "as");
                        if (r >= 0)
                                r = sd_bus_message_append_strv(m, (char **)v.strv);
                        if (r >= 0)
                                r = bus_message_close_dict_entry(m);
                        break;
                case OPT_PATCHES:
                        r = patches_append(m, d->key, v.strv);
                        break;
                }
        }
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}
