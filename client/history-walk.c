/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>

#include "history.h"
#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

static bool entry_cursor(json_object *e, uint64_t *ret) {
        json_object *v;

        if (!json_object_object_get_ex(e, "cursor", &v) || !json_object_is_type(v, json_type_int))
                return false;
        *ret = json_object_get_uint64(v);
        return true;
}

typedef struct Page {
        json_object *entries;
        bool end;        /* nothing older is left */
        uint64_t oldest; /* the oldest entry's cursor: `before` for the next page */
        uint64_t newest;
} Page;

static void page_done(Page *p) {
        json_object_put(p->entries);
        p->entries = NULL;
}

/* One call, checked: an array of at most LIMIT entries whose cursors ascend below BEFORE. */
static int fetch_page(HistoryWalk *w, uint64_t before, uint32_t limit, Page *ret) {
        _cleanup_(json_object_putp) json_object *entries = NULL;
        bool have_all = true, have_prev = false;
        uint64_t prev = 0;
        size_t n;
        int r;

        r = w->fetch(before, limit, &entries, w->fetch_userdata);
        if (r < 0)
                return r;
        if (!json_object_is_type(entries, json_type_array))
                return -EBADMSG;
        n = json_object_array_length(entries);
        if (n > limit)
                return -EBADMSG;
        for (size_t i = 0; i < n; i++) {
                uint64_t c;

                if (!entry_cursor(json_object_array_get_idx(entries, i), &c)) {
                        have_all = false;
                        continue;
                }
                if ((have_prev && c <= prev) || (before > 0 && c >= before))
                        return -EPROTO;
                prev = c;
                have_prev = true;
        }
        *ret = (Page){.end = n < limit};
        if (n > 0 && have_all) {
                (void)entry_cursor(json_object_array_get_idx(entries, 0), &ret->oldest);
                (void)entry_cursor(json_object_array_get_idx(entries, n - 1), &ret->newest);
        }
        if (!ret->end && (!have_all || ret->oldest == 0)) {
                /* A full page without cursors: there is no way to ask for the one before it. */
                ret->end = true;
                w->truncated = !have_all;
        }
        ret->entries = TAKE_PTR(entries);
        return 0;
}

/* Emits the entries newer than the last one emitted (pages read again may overlap). */
static int emit_page(HistoryWalk *w, json_object *entries, bool *have_last, uint64_t *last) {
        for (size_t i = 0; i < json_object_array_length(entries); i++) {
                json_object *e = json_object_array_get_idx(entries, i);
                uint64_t c;
                int r;

                if (entry_cursor(e, &c)) {
                        if (*have_last && c <= *last)
                                continue;
                        *have_last = true;
                        *last = c;
                }
                r = w->emit(e, w->emit_userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void pages_free(Page *pages, size_t n) {
        for (size_t i = 0; i < n; i++)
                page_done(&pages[i]);
        free(pages);
}

/* Keeps every page (at most LIMIT entries, or all of them), then emits them oldest first. */
static int walk_collect(HistoryWalk *w) {
        uint64_t remaining = w->limit > 0 ? w->limit : UINT64_MAX, before = 0, last = 0;
        Page *pages = NULL;
        size_t n_pages = 0;
        bool have_last = false;
        int r = 0;

        for (;;) {
                Page *grown = realloc(pages, (n_pages + 1) * sizeof(Page));

                if (!grown) {
                        r = -ENOMEM;
                        goto finish;
                }
                pages = grown;
                r = fetch_page(w, before, (uint32_t)MIN(remaining, (uint64_t)w->page_size), &pages[n_pages]);
                if (r < 0)
                        goto finish;
                remaining -= json_object_array_length(pages[n_pages].entries);
                before = pages[n_pages].oldest;
                if (pages[n_pages++].end || remaining == 0)
                        break;
        }
        for (size_t i = n_pages; r >= 0 && i > 0; i--)
                r = emit_page(w, pages[i - 1].entries, &have_last, &last);
finish:
        pages_free(pages, n_pages);
        return r;
}

/* Walks back remembering only where each page begins, emits the oldest page, then reads the others
 * again, oldest first. Jobs that end meanwhile are left out: the newest page is read again below
 * the newest cursor the first walk saw. */
static int walk_stream(HistoryWalk *w) {
        _cleanup_free_ uint64_t *befores = NULL;
        uint64_t before = 0, top, last = 0;
        Page page = {};
        size_t n = 0;
        bool have_last = false;
        int r;

        r = fetch_page(w, 0, w->page_size, &page);
        if (r < 0)
                return r;
        top = page.newest < UINT64_MAX ? page.newest + 1 : 0;
        while (!page.end) {
                uint64_t *grown = realloc(befores, (n + 1) * sizeof(uint64_t));

                if (!grown) {
                        r = -ENOMEM;
                        goto finish;
                }
                befores = grown;
                befores[n++] = before == 0 ? top : before;
                before = page.oldest;
                page_done(&page);
                r = fetch_page(w, before, w->page_size, &page);
                if (r < 0)
                        goto finish;
        }
        r = emit_page(w, page.entries, &have_last, &last);
        for (size_t i = n; r >= 0 && i > 0; i--) {
                page_done(&page);
                r = fetch_page(w, befores[i - 1], w->page_size, &page);
                if (r >= 0)
                        r = emit_page(w, page.entries, &have_last, &last);
        }
finish:
        page_done(&page);
        return r;
}

int history_walk(HistoryWalk *w) {
        if (w->page_size == 0 || w->page_size > HISTORY_PAGE_MAX)
                return -EINVAL;
        w->truncated = false;
        if (w->stream && w->limit == 0)
                return walk_stream(w);
        return walk_collect(w);
}
