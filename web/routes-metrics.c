/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "metrics.h"
#include "routes.h"
#include "sse.h"
#include "web.h"

enum MHD_Result routes_metrics(Request *r) {
        enum MHD_Result ret;
        char *text = NULL;
        size_t size = 0;

        if (!http_require(r, ROLE_VIEWER, &ret))
                return ret;
        if (metrics_render(&r->web->metrics, &r->web->mirror, sse_n_clients(r->web->sse), &text, &size) < 0)
                return MHD_NO;
        return http_reply_text(r, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text, size);
}
