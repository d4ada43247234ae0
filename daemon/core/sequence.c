/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/image.h"
#include "job.h"
#include "log.h"
#include "manager.h"
#include "patch.h"
#include "rule.h"
#include "sequence.h"
#include "tasks.h"

static int set_error(char **ret_error, int code, const char *fmt, ...) _printf_(3, 4);
static int set_error(char **ret_error, int code, const char *fmt, ...) {
        va_list ap;

        if (ret_error) {
                free(*ret_error);
                va_start(ap, fmt);
                if (vasprintf(ret_error, fmt, ap) < 0)
                        *ret_error = NULL;
                va_end(ap);
        }
        return code;
}

static Sequence *sequence_new(Manager *m, const char *name) {
        Sequence *q = calloc(1, sizeof(Sequence));

        if (!q)
                return NULL;
        q->manager = m;
        q->name = strdup(name);
        if (!q->name)
                return mfree(q);
        LIST_APPEND(sequences, m->sequences, q);
        return q;
}

Sequence *sequence_free(Sequence *q) {
        if (!q)
                return NULL;
        LIST_REMOVE(sequences, q->manager->sequences, q);
        free(q->name);
        return mfree(q);
}

Sequence *sequence_find(Manager *m, const char *name) {
        LIST_FOREACH (sequences, q, m->sequences)
                if (streq(q->name, name))
                        return q;
        return NULL;
}

int sequence_load(Manager *m, const StoreSequence *sq) {
        Sequence *q = sequence_new(m, sq->name);

        if (!q)
                return -ENOMEM;
        q->kind = sq->kind;
        q->start = sq->start;
        q->step = sq->step;
        q->last = sq->last;
        q->has_last = sq->has_last;
        q->next = sq->next;
        q->n_values = sq->n_values;
        q->exhausted = sq->exhausted;
        q->taken = sq->taken;
        q->used = sq->used;
        q->spoiled = sq->spoiled;
        q->returned = sq->returned;
        q->pending = sq->pending;
        q->owner = sq->owner;
        q->created_usec = sq->created_usec;
        return 0;
}

uint64_t sequence_left(const Sequence *q) {
        uint64_t fresh;

        if (q->exhausted)
                fresh = 0;
        else if (q->kind == STORE_SEQUENCE_LIST)
                fresh = q->n_values > q->next ? q->n_values - q->next : 0;
        else if (!q->has_last)
                return UINT64_MAX;
        else
                fresh = q->last >= q->next ? (q->last - q->next) / MAX(q->step, 1u) + 1 : 0;
        return fresh + q->pending;
}

/* The same rule as the store's: the counts shown follow what it did. */
static void sequence_advance(Sequence *q) {
        if (q->kind == STORE_SEQUENCE_LIST) {
                q->next++;
                q->exhausted = q->next >= q->n_values;
                return;
        }
        uint64_t limit = MIN(q->last, (uint64_t)STORE_SEQUENCE_VALUE_MAX);
        if (q->next > limit || q->step > limit - q->next)
                q->exhausted = true;
        else
                q->next += q->step;
}

static void sequence_changed(Sequence *q) {
        MANAGER_EMIT(q->manager, sequence_changed, q);
}

void sequence_values_taken(Manager *m, const StoreValue *values, size_t n) {
        FOREACH_ARRAY (v, values, n) {
                Sequence *q = sequence_find(m, v->sequence);
                if (!q)
                        continue;
                q->taken++;
                if (v->reissued)
                        q->pending -= q->pending > 0;
                else
                        sequence_advance(q);
                sequence_changed(q);
        }
}

void sequence_values_settled(Manager *m, char *const *values, StoreValuesEnd how) {
        for (char *const *v = values; v && v[0] && v[1]; v += 2) {
                Sequence *q = sequence_find(m, v[0]);
                if (!q)
                        continue;
                q->taken -= q->taken > 0;
                if (how == STORE_VALUES_USED)
                        q->used++;
                else if (how == STORE_VALUES_SPOILED)
                        q->spoiled++;
                else {
                        q->returned++;
                        q->pending++;
                }
                sequence_changed(q);
                if (how == STORE_VALUES_RETURNED)
                        rule_sequence_refilled(m, q->name);
        }
}

typedef struct SequenceAdd {
        Manager *manager;
        StoreSequence sq;
        int fd;
        int result;
        char *error;
        SequenceAddedFn done;
        void *userdata;
} SequenceAdd;

static SequenceAdd *sequence_add_free(SequenceAdd *a) {
        if (!a)
                return NULL;
        if (a->manager)
                a->manager->n_sequences_adding--;
        store_sequence_done(&a->sq);
        safe_close(a->fd);
        free(a->error);
        return mfree(a);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(SequenceAdd *, sequence_add_free);

static void sequence_add_finish(SequenceAdd *a, Sequence *q) {
        if (a->done)
                a->done(a->manager, q, a->result, a->error, a->userdata);
        sequence_add_free(a);
}

static void sequence_add_recorded(int result, void *userdata) {
        SequenceAdd *a = userdata;
        Manager *m = a->manager;
        Sequence *q = NULL;

        if (m->exiting) {
                sequence_add_free(a);
                return;
        }
        a->result = result;
        if (result == -EEXIST)
                (void)set_error(&a->error, result, "A sequence named '%s' exists already.", a->sq.name);
        else if (result < 0)
                (void)set_error(&a->error, result, "Failed to record sequence '%s': %s", a->sq.name,
                                strerror(-result));
        else {
                a->sq.n_values = strv_length(a->sq.values);
                a->sq.next = a->sq.kind == STORE_SEQUENCE_LIST ? 0 : a->sq.start;
                a->sq.exhausted = a->sq.kind == STORE_SEQUENCE_LIST
                                          ? a->sq.n_values == 0
                                          : a->sq.has_last && a->sq.start > a->sq.last;
                if (sequence_load(m, &a->sq) < 0) {
                        a->result = log_oom();
                } else {
                        q = sequence_find(m, a->sq.name);
                        log_info("Sequence %s added.", q->name);
                        MANAGER_EMIT(m, sequence_added, q);
                        manager_emit_changed(m, "Sequences");
                        rule_sequence_refilled(m, q->name);
                }
        }
        sequence_add_finish(a, q);
}

static void sequence_add_store(SequenceAdd *a) {
        int r = store_sequence_add(a->manager->store, &a->sq, sequence_add_recorded, a);

        if (r < 0) {
                a->result = r;
                (void)set_error(&a->error, r, "Failed to record sequence '%s': %s", a->sq.name,
                                strerror(-r));
                sequence_add_finish(a, NULL);
        }
}

static void sequence_read_run(void *userdata) {
        SequenceAdd *a = userdata;
        DfuError error = DFU_ERROR_INIT;
        _cleanup_free_ uint8_t *data = NULL;
        size_t size;

        a->result = read_fd_capped(a->fd, "list", SEQUENCE_LIST_FILE_MAX, &data, &size, &error);
        if (a->result < 0) {
                (void)set_error(&a->error, a->result, "The list for sequence '%s': %s", a->sq.name,
                                dfu_error_message(&error));
                return;
        }
        a->result = sequence_list_parse((const char *)data, size, &a->sq.values, &error);
        if (a->result < 0)
                (void)set_error(&a->error, a->result, "The list for sequence '%s', %s", a->sq.name,
                                dfu_error_message(&error));
}

static void sequence_read_done(Manager *m, void *userdata) {
        SequenceAdd *a = userdata;

        if (m->exiting) {
                sequence_add_free(a);
                return;
        }
        if (a->result < 0)
                return sequence_add_finish(a, NULL);
        sequence_add_store(a);
}

int sequence_add(Manager *m, const SequenceSpec *spec, SequenceAddedFn done, void *userdata,
                 char **ret_error) {
        _cleanup_(sequence_add_freep) SequenceAdd *a = NULL;
        uint64_t step = spec->step ? spec->step : 1;
        unsigned n;
        int r;

        if (!sequence_name_is_valid(spec->name))
                return set_error(ret_error, -EINVAL, "Sequence name '%s' is not 1 to %d of A-Z a-z 0-9 _ -.",
                                 spec->name ? spec->name : "", SEQUENCE_NAME_MAX);
        if (sequence_find(m, spec->name))
                return set_error(ret_error, -EEXIST, "A sequence named '%s' exists already.", spec->name);
        n = m->n_sequences_adding;
        LIST_FOREACH (sequences, q, m->sequences)
                n++;
        if (n >= SEQUENCES_MAX)
                return set_error(ret_error, -EBUSY,
                                 "dfusd keeps at most %d sequences and has %u; remove one first.",
                                 SEQUENCES_MAX, n);
        if (spec->kind == STORE_SEQUENCE_LIST) {
                if (spec->list_fd < 0)
                        return set_error(ret_error, -EINVAL, "A list sequence needs the list file.");
        } else {
                if (spec->list_fd >= 0)
                        return set_error(ret_error, -EINVAL,
                                         "A counter takes no list: give start, or list alone.");
                if (spec->start > STORE_SEQUENCE_VALUE_MAX ||
                    (spec->has_last && spec->last > STORE_SEQUENCE_VALUE_MAX) ||
                    step > STORE_SEQUENCE_VALUE_MAX)
                        return set_error(ret_error, -EINVAL,
                                         "Counter values, steps and last are at most %" PRIu64 ".",
                                         (uint64_t)STORE_SEQUENCE_VALUE_MAX);
                if (spec->has_last && spec->last < spec->start)
                        return set_error(ret_error, -EINVAL,
                                         "The counter's last value %" PRIu64 " is below its start %" PRIu64
                                         ".",
                                         spec->last, spec->start);
        }
        a = calloc(1, sizeof(SequenceAdd));
        if (!a)
                return -ENOMEM;
        *a = (SequenceAdd){
                .manager = m,
                .fd = -EBADF,
                .done = done,
                .userdata = userdata,
                .sq = {.kind = spec->kind,
                       .start = spec->start,
                       .step = step,
                       .last = spec->has_last ? spec->last : STORE_SEQUENCE_VALUE_MAX,
                       .has_last = spec->has_last,
                       .owner = (uint32_t)spec->owner,
                       .created_usec = m->clock_realtime()},
        };
        m->n_sequences_adding++; /* undone when a is freed */
        a->sq.name = strdup(spec->name);
        if (!a->sq.name)
                return -ENOMEM;
        if (spec->kind == STORE_SEQUENCE_COUNTER) {
                sequence_add_store(TAKE_PTR(a));
                return 0;
        }
        a->fd = fcntl(spec->list_fd, F_DUPFD_CLOEXEC, 3);
        if (a->fd < 0)
                return -errno;
        r = tasks_start(m, sequence_read_run, sequence_read_done, a);
        if (r < 0)
                return r;
        TAKE_PTR(a);
        return 0;
}

typedef struct SpoiledQuery {
        Store *store;
        char *name;
        uint32_t limit;
        StoreSpoiled *values;
        size_t n;
        int result;
        SequenceSpoiledFn done;
        void *userdata;
} SpoiledQuery;

static SpoiledQuery *spoiled_query_free(SpoiledQuery *q) {
        if (!q)
                return NULL;
        free(q->name);
        store_spoiled_free(q->values, q->n);
        return mfree(q);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(SpoiledQuery *, spoiled_query_free);

static void spoiled_run(void *userdata) {
        SpoiledQuery *q = userdata;
        q->result = store_sequence_spoiled(q->store, q->name, q->limit, &q->values, &q->n);
}

static void spoiled_done(Manager *m, void *userdata) {
        _cleanup_(spoiled_query_freep) SpoiledQuery *q = userdata;

        q->done(m, m->exiting ? -ESHUTDOWN : q->result, q->values, q->n, q->userdata);
}

int sequence_spoiled_query(Manager *m, const char *name, uint32_t limit, SequenceSpoiledFn done,
                           void *userdata) {
        _cleanup_(spoiled_query_freep) SpoiledQuery *q = calloc(1, sizeof(SpoiledQuery));
        int r;

        if (!q)
                return -ENOMEM;
        *q = (SpoiledQuery){.store = m->store, .limit = limit, .done = done, .userdata = userdata};
        q->name = strdup(name);
        if (!q->name)
                return -ENOMEM;
        r = tasks_start(m, spoiled_run, spoiled_done, q);
        if (r < 0)
                return r;
        TAKE_PTR(q);
        return 0;
}

static bool options_use(const JobOptions *o, const char *name) {
        _cleanup_strv_free_ char **l = NULL;

        return o->patches && job_options_sequences(o, &l) >= 0 && strv_contains(l, name);
}

int sequence_remove(Sequence *q, char **ret_error) {
        Manager *m = q->manager;
        int r;

        LIST_FOREACH (jobs, j, m->jobs)
                if (!job_state_is_final(j->state) && !j->finishing && options_use(&j->opts, q->name))
                        return set_error(ret_error, -EBUSY, "Sequence %s is used by job %" PRIu32 ".",
                                         q->name, j->id);
        /* A rule that stopped because this sequence ran out waits for it to come back, refilled. */
        LIST_FOREACH (rules, rule, m->rules)
                if (options_use(&rule->opts, q->name) && !rule_waits_for_sequence(rule, q->name))
                        return set_error(ret_error, -EBUSY, "Sequence %s is used by rule %" PRIu32 ".",
                                         q->name, rule->id);
        r = store_sequence_remove(m->store, q->name, NULL, NULL);
        if (r < 0)
                return set_error(ret_error, r, "Failed to remove sequence %s: %s", q->name, strerror(-r));
        log_info("Sequence %s removed.", q->name);
        MANAGER_EMIT(m, sequence_removed, q);
        sequence_free(q);
        manager_emit_changed(m, "Sequences");
        return 0;
}
