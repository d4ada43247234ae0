/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manager.h"
#include "patch.h"
#include "submit.h"
#include "tasks.h"

/*
 * What the next board would get at each patch of an Inspect. Only the store knows a list's lines and
 * the returned values that go out first, so the samples are read on a thread: the bus never waits on
 * the disk.
 */

typedef struct Sampling {
        Store *store;
        InspectResult *res;
        InspectSampledFn done;
        void *userdata;
        int result;
} Sampling;

/* Why there is no sample: the sequence is unknown, has nothing left, or could not be read. */
static int sample_failed(InspectPatch *ip, int r) {
        const char *name = ip->patch.sequence;

        if (r == -ENOMEM)
                return r;
        if (r == -ENOENT)
                r = asprintf(&ip->sample_error, "No sequence %s.", name);
        else if (r == -ENOSPC)
                r = asprintf(&ip->sample_error, "Sequence %s is exhausted.", name);
        else
                r = asprintf(&ip->sample_error, "Failed to read sequence %s: %s", name, strerror(-r));
        return r < 0 ? -ENOMEM : 0;
}

static int sample_one(Store *store, InspectPatch *ip) {
        uint8_t buf[PATCH_WIDTH_MAX];
        DfuError e = DFU_ERROR_INIT;
        int r;

        r = store_sequence_peek(store, ip->patch.sequence, &ip->sample);
        if (r < 0)
                return sample_failed(ip, r);
        if (patch_render(&ip->patch, ip->sample, buf, &e) < 0)
                return (ip->sample_error = strdup(dfu_error_message(&e))) ? 0 : -ENOMEM;
        ip->sample_bytes = malloc(ip->patch.width * 3);
        if (!ip->sample_bytes)
                return -ENOMEM;
        for (unsigned i = 0; i < ip->patch.width; i++)
                sprintf(ip->sample_bytes + 3 * i, i + 1 < ip->patch.width ? "%02X " : "%02X", buf[i]);
        return 0;
}

static void sampling_run(void *userdata) {
        Sampling *s = userdata;

        FOREACH_ARRAY (ip, s->res->patches, s->res->n_patches)
                if (s->result >= 0)
                        s->result = sample_one(s->store, ip);
}

static void sampling_done(Manager *m, void *userdata) {
        _cleanup_free_ Sampling *s = userdata;

        s->done(m, m->exiting ? -ESHUTDOWN : s->result, s->userdata);
}

int submit_inspect_sample(Manager *m, InspectResult *res, InspectSampledFn done, void *userdata) {
        _cleanup_free_ Sampling *s = calloc(1, sizeof(Sampling));
        int r;

        if (!s)
                return -ENOMEM;
        *s = (Sampling){.store = m->store, .res = res, .done = done, .userdata = userdata};
        r = tasks_start(m, sampling_run, sampling_done, s);
        if (r < 0)
                return r;
        TAKE_PTR(s);
        return 0;
}
