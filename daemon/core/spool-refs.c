/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>

#include "log.h"
#include "manager.h"
#include "spool-refs.h"
#include "spool.h"
#include "strv.h"
#include "tasks.h"

typedef struct SpoolCollect {
        Spool *spool;
        char **hashes; /* NULL: all */
} SpoolCollect;

static void collect_run(void *userdata) {
        SpoolCollect *c = userdata;
        spool_collect(c->spool, c->hashes);
}

static void collect_done(Manager *m, void *userdata) {
        SpoolCollect *c = userdata;
        strv_free(c->hashes);
        free(c);
}

int spool_refs_hold(Manager *m, char *const *hashes) {
        if (!m->spool)
                return 0;
        for (char *const *h = hashes; h && *h; h++) {
                int r = spool_ref(m->spool, *h);
                if (r < 0) {
                        for (char *const *u = hashes; u != h; u++)
                                spool_unref(m->spool, *u);
                        return r;
                }
        }
        return 0;
}

void spool_refs_release(Manager *m, char *const *hashes) {
        if (!m->spool)
                return;
        for (char *const *h = hashes; h && *h; h++)
                spool_unref(m->spool, *h);
        spool_refs_collect(m, hashes);
}

void spool_refs_collect(Manager *m, char *const *hashes) {
        SpoolCollect *c;

        /* At exit the files stay: the next start collects what nobody holds. */
        if (!m->spool || m->exiting || (hashes && !*hashes))
                return;
        c = calloc(1, sizeof(SpoolCollect));
        if (!c || (hashes && !(c->hashes = strv_copy(hashes)))) {
                free(c);
                return (void)log_oom();
        }
        c->spool = m->spool;
        if (tasks_start(m, collect_run, collect_done, c) < 0) {
                log_warning("Failed to start cleaning the spool; it is cleaned at the next start.");
                collect_done(m, c);
        }
}
