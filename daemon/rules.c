/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "log.h"

/*
 * Auto-flash rules: every attaching board that matches gets a job. With "once" (the default) a board,
 * keyed by port path and serial, is flashed once per rule: it comes back in the bootloader after its
 * own leave only when someone wants it there. Rules and their images live in the state directory.
 */

int rule_new(Context *ctx, uint32_t id, Rule **ret) {
        Rule *r = calloc(1, sizeof(Rule));

        if (!r)
                return -ENOMEM;
        job_options_init(&r->opts);
        r->id = id;
        if (bus_object_path_new(DFUSD_RULE_PREFIX, id, &r->object_path) < 0) {
                free(r);
                return -ENOMEM;
        }
        r->ctx = ctx;
        LIST_APPEND(rules, ctx->rules, r);
        if (id >= ctx->next_rule_id)
                ctx->next_rule_id = id + 1;
        *ret = r;
        return 0;
}

Rule *rule_free(Rule *r) {
        if (!r)
                return NULL;
        if (r->ctx)
                LIST_REMOVE(rules, r->ctx->rules, r);
        job_options_done(&r->opts);
        strv_free(r->image_hashes);
        strv_free(r->flashed);
        free(r->image_sha256);
        free(r->object_path);
        free(r);
        return NULL;
}

Rule *rule_find(Context *ctx, uint32_t id) {
        LIST_FOREACH (rules, r, ctx->rules)
                if (r->id == id)
                        return r;
        return NULL;
}

char *rule_match_string(const Rule *r) {
        char **l = calloc(1, sizeof(char *)), *s;
        char buf[512];
        const struct {
                const char *key, *value;
        } m[] = {{"port", r->opts.match_port},
                 {"serial", r->opts.match_serial},
                 {"station", r->opts.match_station},
                 {"part", r->opts.match_part}};

        for (size_t i = 0; l && i < ELEMENTSOF(m); i++)
                if (m[i].value) {
                        (void)snprintf(buf, sizeof(buf), "%s=%s", m[i].key, m[i].value);
                        if (strv_extend(&l, buf) < 0)
                                l = strv_free(l);
                }
        if (!l)
                return NULL;
        s = l[0] ? strv_join(l, " ") : strdup("any");
        strv_free(l);
        return s;
}

static bool rule_matches(const Rule *r, const Device *d) {
        if (r->opts.match_port && fnmatch(r->opts.match_port, d->port_path, 0) != 0)
                return false;
        if (r->opts.match_serial && (!d->serial || fnmatch(r->opts.match_serial, d->serial, 0) != 0))
                return false;
        if (r->opts.match_station && (!d->station || fnmatch(r->opts.match_station, d->station, 0) != 0))
                return false;
        if (r->opts.match_part && (!d->part || strcasecmp(r->opts.match_part, d->part->name) != 0))
                return false;
        return true;
}

static char *board_key(const char *port, const char *serial) {
        char *k = NULL;
        return asprintf(&k, "%s %s", port, serial ? serial : "") < 0 ? NULL : k;
}

static int options_copy(const JobOptions *from, JobOptions *to) {
        json_object *j = NULL;
        int r = job_options_to_json(from, &j);
        if (r < 0)
                return r;
        r = job_options_from_json(j, to);
        json_object_put(j);
        return r;
}

static bool rule_has_job_for(Context *ctx, const Rule *rule, const Device *d) {
        LIST_FOREACH (jobs, j, ctx->jobs)
                if (j->rule_id == rule->id && !job_state_is_final(j->state) && j->opts.port &&
                    streq(j->opts.port, d->port_path))
                        return true;
        return false;
}

static int rule_start_job(Rule *rule, Device *d) {
        Context *ctx = rule->ctx;
        DfuError error = DFU_ERROR_INIT;
        Job *j;
        int r;

        r = job_new(ctx, ctx->next_job_id, &j);
        if (r < 0)
                return r;
        j->owner = rule->owner;
        j->rule_id = rule->id;
        r = options_copy(&rule->opts, &j->opts);
        free(j->opts.match_port), free(j->opts.match_serial), free(j->opts.match_station),
                free(j->opts.match_part);
        j->opts.match_port = j->opts.match_serial = j->opts.match_station = j->opts.match_part = NULL;
        if (r >= 0)
                r = (j->opts.port = strdup(d->port_path)) ? 0 : -ENOMEM;
        if (r >= 0)
                r = (j->image_hashes = strv_copy(rule->image_hashes)) ? 0 : -ENOMEM;
        if (r >= 0)
                r = (j->image_sha256 = strdup(rule->image_sha256)) ? 0 : -ENOMEM;
        if (r >= 0)
                r = (j->target = job_options_target(&j->opts)) ? 0 : -ENOMEM;
        if (r >= 0)
                r = image_set_load_spooled(ctx, j->image_hashes, &j->opts, &j->image, &error);
        if (r < 0) {
                log_error("Rule %" PRIu32 ": failed to set up a job for port %s: %s", rule->id, d->port_path,
                          error.code ? error.message : strerror(-r));
                job_free(j);
                return r;
        }
        /* Nobody waits for an answer here; the journal keeps its order, so this precedes the start. */
        r = store_record_submit(ctx, j, NULL, NULL);
        if (r < 0)
                log_warning_errno(r, "Failed to record job %" PRIu32 ": %m", j->id);
        j->accepted = true;
        log_info("Rule %" PRIu32 " matches the board on port %s: job %" PRIu32 ".", rule->id, d->port_path,
                 j->id);
        return queue_add(ctx, j);
}

void rules_device_added(Context *ctx, Device *d) {
        if (d->failed)
                return;
        LIST_FOREACH (rules, rule, ctx->rules) {
                _cleanup_free_ char *key = NULL;

                if (!rule_matches(rule, d) || rule_has_job_for(ctx, rule, d))
                        continue;
                key = board_key(d->port_path, d->serial);
                if (!key || (rule->opts.once && strv_contains(rule->flashed, key)))
                        continue;
                (void)rule_start_job(rule, d);
        }
}

void rules_job_finished(Context *ctx, Job *j) {
        _cleanup_free_ char *key = NULL;
        Rule *rule;

        if (j->rule_id == 0 || j->state != JOB_DONE || !j->port_path)
                return;
        rule = rule_find(ctx, j->rule_id);
        key = board_key(j->port_path, j->serial);
        if (!rule || !key || strv_contains(rule->flashed, key))
                return;
        if (strv_extend(&rule->flashed, key) < 0)
                return (void)log_oom();
        if (rules_save(ctx) < 0)
                log_warning("Failed to save the rules after flashing port %s.", j->port_path);
        (void)bus_rule_emit_changed(rule, "BoardsFlashed");
}

static json_object *strv_to_json(char *const *l) {
        json_object *a = json_object_new_array();
        for (; a && l && *l; l++)
                json_object_array_add(a, json_object_new_string(*l));
        return a;
}

int rules_save(Context *ctx) {
        _cleanup_free_ char *path = NULL, *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        json_object *all = json_object_new_array();
        int r = 0;

        if (!all)
                return -ENOMEM;
        LIST_FOREACH (rules, rule, ctx->rules) {
                json_object *o = json_object_new_object(), *opts = NULL;
                if (!o || job_options_to_json(&rule->opts, &opts) < 0) {
                        json_object_put(o);
                        json_object_put(all);
                        return -ENOMEM;
                }
                json_object_object_add(o, "id", json_object_new_uint64(rule->id));
                json_object_object_add(o, "owner", json_object_new_uint64(rule->owner));
                json_object_object_add(o, "options", opts);
                json_object_object_add(o, "images", strv_to_json(rule->image_hashes));
                json_object_object_add(o, "flashed", strv_to_json(rule->flashed));
                json_object_array_add(all, o);
        }
        const char *text = json_object_to_json_string_ext(all, JSON_C_TO_STRING_PLAIN);
        if (asprintf(&path, "%s/rules.json", ctx->config.state_dir) < 0 ||
            asprintf(&tmp, "%s/.rules.json.tmp", ctx->config.state_dir) < 0)
                r = -ENOMEM;
        if (r >= 0 && (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)) < 0)
                r = -errno;
        if (r >= 0 && (write(fd, text, strlen(text)) != (ssize_t)strlen(text) || fsync(fd) < 0))
                r = -EIO;
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        json_object_put(all);
        return r;
}

static void rule_load_one(Context *ctx, json_object *o) {
        json_object *v, *opts, *images, *flashed;
        DfuError error = DFU_ERROR_INIT;
        Rule *rule;

        if (!json_object_object_get_ex(o, "id", &v) || !json_object_object_get_ex(o, "options", &opts) ||
            !json_object_object_get_ex(o, "images", &images))
                return (void)log_warning("Ignoring a malformed rule in rules.json.");
        if (rule_new(ctx, (uint32_t)json_object_get_uint64(v), &rule) < 0)
                return (void)log_oom();
        if (json_object_object_get_ex(o, "owner", &v))
                rule->owner = (uid_t)json_object_get_uint64(v);
        (void)job_options_from_json(opts, &rule->opts);
        for (size_t i = 0; i < json_object_array_length(images); i++)
                (void)strv_extend(&rule->image_hashes,
                                  json_object_get_string(json_object_array_get_idx(images, i)));
        if (json_object_object_get_ex(o, "flashed", &flashed))
                for (size_t i = 0; i < json_object_array_length(flashed); i++)
                        (void)strv_extend(&rule->flashed,
                                          json_object_get_string(json_object_array_get_idx(flashed, i)));
        rule->image_sha256 = images_sha256_summary(rule->image_hashes);
        /* Checked now so that a rule whose image went missing is dropped at once; jobs load their own copy.
         */
        _cleanup_(image_freep) Image *image = NULL;
        if (image_set_load_spooled(ctx, rule->image_hashes, &rule->opts, &image, &error) < 0) {
                log_error("Dropping rule %" PRIu32 ": %s", rule->id, dfu_error_message(&error));
                rule_free(rule);
                return;
        }
        (void)bus_rule_add(rule);
}

int rules_load(Context *ctx) {
        _cleanup_free_ char *path = NULL;
        json_object *all;

        if (asprintf(&path, "%s/rules.json", ctx->config.state_dir) < 0)
                return -ENOMEM;
        if (access(path, F_OK) < 0)
                return 0;
        all = json_object_from_file(path);
        if (!all || !json_object_is_type(all, json_type_array)) {
                json_object_put(all);
                return log_error_errno(EBADMSG, "Failed to parse %s; starting without rules.", path);
        }
        for (size_t i = 0; i < json_object_array_length(all); i++)
                rule_load_one(ctx, json_object_array_get_idx(all, i));
        json_object_put(all);
        return 0;
}
