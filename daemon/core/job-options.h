/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "patch.h"
#include "plan.h"
#include "sanitize.h"
#include "strv.h"

/*
 * The options of Submit, Inspect and AddRule: one table says each key's type and where it is allowed;
 * they are parsed once and kept with the job or rule. The bus layer reads and writes them through the
 * table; the store keeps them as JSON.
 */

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
        /* protection: regress read-out protection first (erases the whole flash); RDP level 1 at the end;
         * option bytes by name ("bor_lev=1,..."); RDP level 2 allowed */
        bool unprotect, lock, allow_permanent_lock;
        char *option_bytes;
        /* per-board data: "0x08001000:u32le:boards", canonical (patch_to_string()) */
        char **patches;
        bool patch_erase;
        /* Inspect only */
        char **layouts;
        /* AddRule only */
        char *match_port, *match_serial, *match_station, *match_part;
        bool once;
        /* Who asked ("web:line3-mes"): kept with the job or rule for the record, never acted on. */
        char *origin;
} JobOptions;

typedef enum OptionKind {
        OPT_STRING,
        OPT_BOOL,
        OPT_TRISTATE,
        OPT_U64,
        OPT_ADDRESS,
        OPT_STRV,
        OPT_PATCHES, /* a strv of canonical patches; a(uss) on the bus */
} OptionKind;

typedef struct OptionDef {
        const char *key;
        OptionKind kind;
        unsigned scope;
        size_t offset;
} OptionDef;

/* A value as read from the caller, before it is stored. */
typedef struct OptionValue {
        const char *string;
        bool boolean;
        uint64_t u64;
        char *const *strv;
} OptionValue;

/* Callers' strings are bounded: they end up in records, replies and logs. */
#define JOB_OPTION_STRING_MAX 1024
#define JOB_OPTION_STRV_MAX   64

void job_options_init(JobOptions *o);
void job_options_done(JobOptions *o);
int job_options_copy(const JobOptions *from, JobOptions *to);

const OptionDef *job_option_find(const char *key);
const OptionDef *job_option_by_index(size_t i); /* NULL past the end */
bool job_option_is_default(const OptionDef *d, const JobOptions *o);
void job_option_get(const OptionDef *d, const JobOptions *o, OptionValue *ret);
/* Stores v; a value out of range fails with -EINVAL and a message in *ret_error. */
int job_option_set(const OptionDef *d, JobOptions *o, const OptionValue *v, char **ret_error);
/* What holds across options (one target, known parts, well-formed globs); -EINVAL and a message. */
/* The job's patches, parsed (they were checked when set): n at most PATCH_MAX. */
int job_options_patches(const JobOptions *o, Patch **ret, size_t *ret_n);
/* The sequences the patches draw from, each once, in order: an empty strv for none. */
int job_options_sequences(const JobOptions *o, char ***ret);
int job_options_validate(const JobOptions *o, char **ret_error);

int job_options_to_json(const JobOptions *o, json_object **ret);
int job_options_to_json_string(const JobOptions *o, char **ret);
int job_options_from_json(json_object *j, JobOptions *ret);
int job_options_from_json_string(const char *s, JobOptions *ret);

/* "port=1-1.3", "serial=...", "station=A", "any", or NULL when no target was named. */
char *job_options_target(const JobOptions *o);
/* "port=1-* part=F405", or "any": a rule's match options. */
char *job_options_match_string(const JobOptions *o);

void job_options_sanitize(const JobOptions *o, SanitizeOptions *ret);
void job_options_plan(const JobOptions *o, bool default_verify, PlanOptions *ret);
