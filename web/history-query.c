/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "history-query.h"
#include "history.h"
#include "macro.h"
#include "parse-util.h"

/* since= and until=: microseconds since the epoch as dfusd keeps them, or "2026-01-05T10:11:12Z". */
static int parse_time(const char *s, uint64_t *ret) {
        struct tm tm = {};
        const char *end;
        time_t t;

        if (parse_uint64(s, 10, UINT64_MAX, ret) >= 0)
                return 0;
        end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!end || (end[0] && !streq(end, "Z")))
                return -EINVAL;
        t = timegm(&tm);
        if (t < 0)
                return -EINVAL;
        *ret = (uint64_t)t * 1000000ULL;
        return 0;
}

bool history_query_arg_known(const char *key) {
        static const char *const known[] = {"since",  "until", "port",   "serial", "image",
                                            "result", "limit", "before", "format", "access_token"};

        for (size_t i = 0; i < ELEMENTSOF(known); i++)
                if (streq(key, known[i]))
                        return true;
        return false;
}

int history_query_parse(HistoryQuery *q, QueryLookupFn get, void *userdata, const char **what) {
        const char *v;
        uint64_t u;

        *q = (HistoryQuery){.limit = 100};
        if ((v = get(userdata, "since")) && parse_time(v, &q->since) < 0)
                return *what = "since", -EINVAL;
        if ((v = get(userdata, "until")) && parse_time(v, &q->until) < 0)
                return *what = "until", -EINVAL;
        if ((v = get(userdata, "before")) && parse_uint64(v, 10, UINT64_MAX, &q->before) < 0)
                return *what = "before", -EINVAL;
        if ((v = get(userdata, "limit"))) {
                if (parse_uint64(v, 10, HISTORY_PAGE_MAX, &u) < 0 || u == 0)
                        return *what = "limit", -EINVAL;
                q->limit = (uint32_t)u;
        }
        if ((v = get(userdata, "result")) && !history_result_is_valid(v))
                return *what = "result", -EINVAL;
        q->result = v;
        q->port = get(userdata, "port");
        q->serial = get(userdata, "serial");
        if ((v = get(userdata, "image")) && history_image_normalize(v, &q->image) < 0)
                return *what = "image", -EINVAL;
        return 0;
}

void history_query_done(HistoryQuery *q) {
        q->image = mfree(q->image);
}
