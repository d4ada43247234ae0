/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "job.h"
#include "log.h"
#include "manager.h"
#include "rule.h"
#include "spool-refs.h"
#include "spool.h"
#include "tasks.h"

typedef struct SpoolCollect {
        char *state_dir;
        char **hashes; /* NULL: all */
        char **keep;
        struct timespec requested; /* when keep was taken */
} SpoolCollect;

static SpoolCollect *spool_collect_free(SpoolCollect *c) {
        if (!c)
                return NULL;
        free(c->state_dir);
        strv_free(c->hashes);
        strv_free(c->keep);
        return mfree(c);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(SpoolCollect *, spool_collect_free);

static void collect_run(void *userdata) {
        SpoolCollect *c = userdata;
        spool_collect(c->state_dir, c->hashes, c->keep, &c->requested);
}

static void collect_done(Manager *m, void *userdata) {
        spool_collect_free(userdata);
}

static int keep_extend(char ***keep, char *const *hashes) {
        for (char *const *h = hashes; h && *h; h++)
                if (!strv_contains(*keep, *h) && strv_extend(keep, *h) < 0)
                        return -ENOMEM;
        return 0;
}

void spool_refs_release(Manager *m, char *const *hashes) {
        _cleanup_(spool_collect_freep) SpoolCollect *c = NULL;

        /* A call still reading may have spooled a file that no job refers to yet. */
        if (m->reads_pending > 0 || !m->config.state_dir)
                return;
        c = calloc(1, sizeof(SpoolCollect));
        if (!c || !(c->state_dir = strdup(m->config.state_dir)) || !(c->keep = calloc(1, sizeof(char *))) ||
            (hashes && !(c->hashes = strv_copy(hashes))))
                return (void)log_oom();
        /* An image spooled after this moment (a call that began reading once the collection was on its
         * way) is not in keep, and must stay. */
        (void)clock_gettime(CLOCK_REALTIME, &c->requested);
        LIST_FOREACH (jobs, j, m->jobs)
                if (!job_state_is_final(j->state) && !j->finishing &&
                    keep_extend(&c->keep, j->image_hashes) < 0)
                        return (void)log_oom();
        LIST_FOREACH (rules, r, m->rules)
                if (keep_extend(&c->keep, r->image_hashes) < 0)
                        return (void)log_oom();
        if (tasks_start(m, collect_run, collect_done, c) < 0)
                return (void)log_warning(
                        "Failed to start cleaning the spool; it is cleaned at the next start.");
        TAKE_PTR(c);
}
