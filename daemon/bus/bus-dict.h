/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "job-options.h"

/* Reads an a{sv} array: for each entry calls read() inside the value's variant, with the variant's
 * signature. read() refuses an entry by returning < 0 (with error set). */
typedef int (*BusDictReadFn)(sd_bus_message *m, const char *key, const char *signature, void *userdata,
                             sd_bus_error *error);
int bus_message_read_dict(sd_bus_message *m, BusDictReadFn read, void *userdata, sd_bus_error *error);

/* Opens the entry {key: variant of signature} of an a{sv} being written, for a value that takes more
 * than one append; bus_message_close_dict_entry() closes both. */
int bus_message_open_dict_entry(sd_bus_message *m, const char *key, const char *signature);
int bus_message_close_dict_entry(sd_bus_message *m);

/* The a{sv} options of Submit, Inspect and AddRule, through the core's option table: unknown keys and
 * wrong types are InvalidArgs naming the key. */
int bus_job_options_read(sd_bus_message *m, OptionScope scope, JobOptions *ret, sd_bus_error *error);
/* The same, with extra keys that are not job options (kept with no job, such as the signatures of the
 * call's images): extra() returns 0 for a key it does not know, which the table then reads. */
int bus_job_options_read_extra(sd_bus_message *m, OptionScope scope, JobOptions *ret, BusDictReadFn extra,
                               void *extra_userdata, sd_bus_error *error);
/* Appends the options that differ from the defaults as a{sv}. */
int bus_job_options_append(sd_bus_message *m, const JobOptions *o);
