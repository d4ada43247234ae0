/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "list.h"
#include "sequence-list.h"
#include "store.h"

typedef struct Manager Manager;

/*
 * Sequences: where per-board values come from. The store holds them and hands out their values; the
 * core keeps their counts up to date from what it took and settled, for the bus to show.
 */
typedef struct Sequence Sequence;

struct Sequence {
        Manager *manager;
        char *name;
        StoreSequenceKind kind;
        uint64_t start, step, last; /* counter */
        bool has_last;
        uint64_t next;     /* counter: the next new value; list: the index of the next new line */
        uint64_t n_values; /* list */
        bool exhausted;    /* no new value left */
        uint64_t taken, used, spoiled, returned, pending;
        uid_t owner;
        uint64_t created_usec;
        LIST_FIELDS(Sequence, sequences);
};

typedef struct SequenceSpec {
        const char *name;
        StoreSequenceKind kind;
        uint64_t start, step, last; /* counter; step 0 means 1 */
        bool has_last;
        int list_fd; /* list: the file, read on a thread (not closed) */
        uid_t owner;
} SequenceSpec;

/* Sequences dfusd keeps at most: each may hold a list of up to SEQUENCE_LIST_FILE_MAX in the store. */
#define SEQUENCES_MAX 256

/* Runs once the sequence is durable (q set) or failed (q NULL, error says why). */
typedef void (*SequenceAddedFn)(Manager *m, Sequence *q, int result, const char *error, void *userdata);

int sequence_load(Manager *m, const StoreSequence *sq);
Sequence *sequence_free(Sequence *q);
Sequence *sequence_find(Manager *m, const char *name);
/* New values left, returned ones included: UINT64_MAX for an unbounded counter. */
uint64_t sequence_left(const Sequence *q);

/* A bad spec is -EINVAL (or -EEXIST, or -EBUSY past SEQUENCES_MAX) with a message in *ret_error,
 * before anything is started. */
int sequence_add(Manager *m, const SequenceSpec *spec, SequenceAddedFn done, void *userdata,
                 char **ret_error);
/* Refused (-EBUSY, message in *ret_error) while a job that has not ended or a rule uses it. */
int sequence_remove(Sequence *q, char **ret_error);

/* Reads the sequence's spoiled values (at most limit) on a thread; done runs on the loop with them
 * (borrowed for the call), or a negative errno (-ESHUTDOWN at exit). */
typedef void (*SequenceSpoiledFn)(Manager *m, int result, const StoreSpoiled *values, size_t n,
                                  void *userdata);
int sequence_spoiled_query(Manager *m, const char *name, uint32_t limit, SequenceSpoiledFn done,
                           void *userdata);

/* The store took values for a job / settled them: keep the counts. */
void sequence_values_taken(Manager *m, const StoreValue *values, size_t n);
void sequence_values_settled(Manager *m, char *const *values, StoreValuesEnd how);
