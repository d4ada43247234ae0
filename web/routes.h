/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "http.h"

/* GET/DELETE under /api/v1/ (PATH is what follows it). */
enum MHD_Result routes_api(Request *r, const char *path);
/* GET /api/v1/history, as JSON or (Accept: text/csv) CSV. */
enum MHD_Result routes_history(Request *r);
/* GET /api/v1/events. */
enum MHD_Result routes_events(Request *r);
/* GET /metrics. */
enum MHD_Result routes_metrics(Request *r);
/* GET of a file below StaticDirectory=: "/" is the station page. */
enum MHD_Result routes_static(Request *r, const char *path);

/* POST /api/v1/jobs and /api/v1/rules: multipart, streamed into memfds as it arrives. begin()
 * decides on the headers alone (role, type, declared size) and may answer at once. */
bool routes_upload_wants(const char *method, const char *url);
enum MHD_Result routes_upload_begin(Request *r);
enum MHD_Result routes_upload_feed(Request *r, const char *data, size_t *size);
enum MHD_Result routes_upload_finish(Request *r);
void routes_upload_free(Upload *u);
