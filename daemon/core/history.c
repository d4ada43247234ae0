/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "macro.h"
#include "manager.h"
#include "tasks.h"

typedef struct HistoryQuery {
        Store *store;
        StoreHistoryFilter filter;
        char *port, *serial, *image, *result, *value;
        HistoryDoneFn done;
        void *userdata;
        StoreHistory *page;
        int r;
} HistoryQuery;

static HistoryQuery *history_query_free(HistoryQuery *q) {
        if (!q)
                return NULL;
        free(q->port);
        free(q->serial);
        free(q->image);
        free(q->result);
        free(q->value);
        store_history_free(q->page);
        return mfree(q);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(HistoryQuery *, history_query_free);

static void history_run(void *userdata) {
        HistoryQuery *q = userdata;
        q->r = store_history_query(q->store, &q->filter, &q->page);
}

static void history_done(Manager *m, void *userdata) {
        _cleanup_(history_query_freep) HistoryQuery *q = userdata;

        /* Called at exit too, with -ESHUTDOWN, so that the caller frees what it holds. */
        if (m->exiting)
                q->r = -ESHUTDOWN;
        q->done(m, q->r, q->r < 0 ? NULL : TAKE_PTR(q->page), q->userdata);
}

static int copy(const char *s, char **ret) {
        if (!s)
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int history_query(Manager *m, const StoreHistoryFilter *filter, HistoryDoneFn done, void *userdata) {
        _cleanup_(history_query_freep) HistoryQuery *q = calloc(1, sizeof(HistoryQuery));
        int r;

        if (!q)
                return -ENOMEM;
        q->store = m->store;
        q->filter = *filter;
        q->done = done;
        q->userdata = userdata;
        if (copy(filter->port, &q->port) < 0 || copy(filter->serial, &q->serial) < 0 ||
            copy(filter->image, &q->image) < 0 || copy(filter->result, &q->result) < 0 ||
            copy(filter->value, &q->value) < 0)
                return -ENOMEM;
        q->filter.port = q->port;
        q->filter.serial = q->serial;
        q->filter.image = q->image;
        q->filter.result = q->result;
        q->filter.value = q->value;
        r = tasks_start(m, history_run, history_done, q);
        if (r < 0)
                return r;
        TAKE_PTR(q);
        return 0;
}
