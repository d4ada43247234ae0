/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

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
        char **unused; /* found by the thread */
} SpoolCollect;

static SpoolCollect *spool_collect_free(SpoolCollect *c) {
        if (!c)
                return NULL;
        free(c->state_dir);
        strv_free(c->hashes);
        strv_free(c->keep);
        strv_free(c->unused);
        return mfree(c);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(SpoolCollect *, spool_collect_free);

static int keep_extend(char ***keep, char *const *hashes) {
        for (char *const *h = hashes; h && *h; h++)
                if (!strv_contains(*keep, *h) && strv_extend(keep, *h) < 0)
                        return -ENOMEM;
        return 0;
}

/* The hashes that jobs still to run and rules refer to now. */
static int spool_refs_keep(Manager *m, char ***keep) {
        LIST_FOREACH (jobs, j, m->jobs)
                if (!job_state_is_final(j->state) && !j->finishing && keep_extend(keep, j->image_hashes) < 0)
                        return -ENOMEM;
        LIST_FOREACH (rules, r, m->rules)
                if (keep_extend(keep, r->image_hashes) < 0)
                        return -ENOMEM;
        return 0;
}

/* The directory is read in a thread; it may be long. */
static void collect_run(void *userdata) {
        SpoolCollect *c = userdata;
        c->unused = spool_unused(c->state_dir, c->hashes, c->keep);
}

/*
 * Back on the loop: a job or rule made while the thread read the directory may refer to a file it
 * found unused (an image spooled just after the collection started), and a call still reading may be
 * about to. Only what is unused now goes.
 */
static void collect_done(Manager *m, void *userdata) {
        _cleanup_(spool_collect_freep) SpoolCollect *c = userdata;
        _cleanup_strv_free_ char **keep = NULL;

        if (m->reads_pending > 0 || !c->unused || spool_refs_keep(m, &keep) < 0)
                return;
        for (char **name = c->unused; *name; name++)
                if (!strv_contains(keep, *name))
                        spool_remove(c->state_dir, *name);
}

void spool_refs_release(Manager *m, char *const *hashes) {
        _cleanup_(spool_collect_freep) SpoolCollect *c = NULL;

        /* A call still reading may have spooled a file that no job refers to yet. */
        if (m->reads_pending > 0 || !m->config.state_dir)
                return;
        c = calloc(1, sizeof(SpoolCollect));
        if (!c || !(c->state_dir = strdup(m->config.state_dir)) || !(c->keep = calloc(1, sizeof(char *))) ||
            (hashes && !(c->hashes = strv_copy(hashes))) || spool_refs_keep(m, &c->keep) < 0)
                return (void)log_oom();
        if (tasks_start(m, collect_run, collect_done, c) < 0)
                return (void)log_warning(
                        "Failed to start cleaning the spool; it is cleaned at the next start.");
        TAKE_PTR(c);
}
