/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "plan.h"
#include "sanitize.h"
#include "strv.h"

/* The a{sv} options of Submit, Inspect and AddRule, parsed once and kept with the job or rule. */

typedef enum OptionScope {
        OPTION_SCOPE_SUBMIT = 1 << 0,
        OPTION_SCOPE_INSPECT = 1 << 1,
        OPTION_SCOPE_RULE = 1 << 2,
} OptionScope;

typedef struct JobOptions {
        /* target */
        char *port, *serial, *station;
        bool any;
        char *part;
        bool wait;
        uint64_t timeout_sec;
        /* image handling */
        bool strict, allow_option_bytes;
        bool has_base;
        uint32_t base;
        /* plan */
        int verify; /* -1: the configured default */
        bool leave, mass_erase, skip_identical, skip_blank;
        /* Inspect only */
        char **layouts;
        /* AddRule only */
        char *match_port, *match_serial, *match_station, *match_part;
        bool once;
} JobOptions;

void job_options_init(JobOptions *o);
void job_options_done(JobOptions *o);

/* Reads an a{sv} array; unknown keys and wrong types are InvalidArgs naming the key. */
int job_options_parse(sd_bus_message *m, OptionScope scope, JobOptions *ret, sd_bus_error *error);

/* Reads an a{sv} array: for each entry calls read() inside the value's variant, with the variant's
 * signature. read() refuses an entry by returning < 0 (with error set). */
typedef int (*BusDictReadFn)(sd_bus_message *m, const char *key, const char *signature, void *userdata,
                             sd_bus_error *error);
int bus_message_read_dict(sd_bus_message *m, BusDictReadFn read, void *userdata, sd_bus_error *error);
/* Opens the entry {key: variant of signature} of an a{sv} being written, for a value that takes more
 * than one append; bus_message_close_dict_entry() closes both. */
int bus_message_open_dict_entry(sd_bus_message *m, const char *key, const char *signature);
int bus_message_close_dict_entry(sd_bus_message *m);

int job_options_to_json(const JobOptions *o, json_object **ret);
int job_options_from_json(json_object *j, JobOptions *ret);
/* Appends the options that differ from the defaults as a{sv}. */
int job_options_append(sd_bus_message *m, const JobOptions *o);

/* "port=1-1.3", "serial=...", "station=A", "any", or NULL when no target was named. */
char *job_options_target(const JobOptions *o);

void job_options_sanitize(const JobOptions *o, SanitizeOptions *ret);
void job_options_plan(const JobOptions *o, bool default_verify, PlanOptions *ret);
