/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dfusd-web in front of the real dfusd with simulated boards: the API, access, bad input, events. */
#include <json-c/json.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "harness.h"
#include "test-main.h"
#include "web-client.h"

#define FLASH_BASE 0x08000000u
#define OPERATOR   "s3cret-operator"
#define ADMIN      "s3cret-admin"
#define VIEWER     "s3cret-viewer"

typedef struct WebTest {
        Integ integ;
        GSubprocess *web;
        guint16 port;
        char *url;
} WebTest;

static char *sha256_hex(const char *s) {
        return g_compute_checksum_for_string(G_CHECKSUM_SHA256, s, -1);
}

/* Starts dfusd-web on a free port of the test's bus; stations and tokens as the line would have. */
static void web_start(WebTest *w, const char *extra_config) {
        Integ *t = &w->integ;
        g_autofree char *op = sha256_hex(OPERATOR), *ad = sha256_hex(ADMIN), *vi = sha256_hex(VIEWER);
        g_autofree char *tokens = g_strdup_printf(
                "# name role sha256\nmes operator %s\nboss admin %s\nwall viewer %s\n", op, ad, vi);
        g_autofree char *tokens_path = integ_write_file(t, "web-tokens", tokens, strlen(tokens));
        g_autofree char *stations = g_strdup("[Stations]\n1-1=A\n1-2=B\n1-9=Z\n");
        g_autofree char *stations_path = integ_write_file(t, "stations.conf", stations, strlen(stations));
        g_autofree char *conf =
                g_strdup_printf("[Web]\nTokensFile=%s\nStaticDirectory=%s\nDaemonConfig=%s\n%s", tokens_path,
                                g_getenv("DFUSD_WEB_STATIC"), stations_path, extra_config ?: "");

        g_assert_cmpint(chmod(tokens_path, 0600), ==, 0);
        w->port = web_spawn(t, conf, &w->web);
        w->url = g_strdup_printf("http://127.0.0.1:%u", w->port);
}

static void setup(WebTest *w, gconstpointer data) {
        memset(w, 0, sizeof(*w));
        integ_setup(&w->integ, data);
}

static void teardown(WebTest *w, gconstpointer data) {
        if (w->web) {
                g_subprocess_send_signal(w->web, SIGTERM);
                g_subprocess_wait(w->web, NULL, NULL);
                /* a clean stop is part of the contract (sanitizer builds report leaks here) */
                g_assert_true(g_subprocess_get_if_exited(w->web));
                g_assert_cmpint(g_subprocess_get_exit_status(w->web), ==, 0);
                g_clear_object(&w->web);
        }
        g_free(w->url);
        integ_teardown(&w->integ, data);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_object, json_object_put)

static json_object *parse_json(WebReply *r) {
        json_object *n = json_tokener_parse(web_reply_text(r));
        if (!n)
                g_error("not JSON: %s", web_reply_text(r));
        return n;
}

static json_object *member(json_object *o, const char *key) {
        json_object *v = NULL;
        if (!json_object_object_get_ex(o, key, &v))
                g_error("no member '%s' in %s", key, json_object_to_json_string(o));
        return v;
}

static const char *member_str(json_object *o, const char *key) {
        return json_object_get_string(member(o, key));
}

static void assert_error(WebReply *r, unsigned status, const char *name) {
        g_autoptr(json_object) n = NULL;
        if (r->status != status)
                g_printerr("reply %u: %s\n", r->status, web_reply_text(r));
        g_assert_cmpuint(r->status, ==, status);
        n = parse_json(r);
        g_assert_cmpstr(member_str(n, "error"), ==, name);
        g_assert_cmpstr(member_str(n, "message"), !=, "");
}

static GBytes *ihex_image(WebTest *w, const uint8_t *data, size_t size, char **ret_path) {
        char *path = integ_write_ihex(&w->integ, "app.hex", &(IntegSegment){FLASH_BASE, data, size}, 1);
        char *text = NULL;
        gsize n = 0;

        g_assert_true(g_file_get_contents(path, &text, &n, NULL));
        if (ret_path)
                *ret_path = path;
        else
                g_free(path);
        return g_bytes_new_take(text, n);
}

static WebReply *submit(WebTest *w, const char *token, GBytes *image, const char *options) {
        g_autoptr(GBytes) body = web_multipart("xYzBoundary", &image, 1, options);
        gsize n;
        const void *d = g_bytes_get_data(body, &n);
        return web_request(w->port, "POST", "/api/v1/jobs", token,
                           "Content-Type: multipart/form-data; boundary=xYzBoundary\r\n", d, n);
}

static char *wait_job(WebTest *w, gint64 id) {
        g_autofree char *path = g_strdup_printf("/api/v1/jobs/%" G_GINT64_FORMAT, id);

        for (unsigned i = 0; i < 3000; i++) {
                g_autoptr(WebReply) r = web_request(w->port, "GET", path, NULL, NULL, NULL, 0);
                g_autoptr(json_object) n = NULL;
                const char *state;

                g_assert_cmpuint(r->status, ==, 200);
                n = parse_json(r);
                state = member_str(n, "state");
                if (g_str_equal(state, "done") || g_str_equal(state, "failed") ||
                    g_str_equal(state, "cancelled"))
                        return g_strdup(state);
                g_usleep(10 * 1000);
        }
        g_error("job %" G_GINT64_FORMAT " did not end", id);
}

/* Runs python3 with a program given inline; its stdout, or fails the test. */
static char *python(const char *program, const char *input) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GSubprocess) p =
                g_subprocess_new(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                                 "python3", "-c", program, NULL);
        char *out = NULL;

        g_assert_no_error(error);
        g_subprocess_communicate_utf8(p, input, NULL, &out, NULL, &error);
        g_assert_no_error(error);
        g_assert_true(g_subprocess_get_successful(p));
        return out;
}

/* A counter sequence; last UINT64_MAX: unbounded. */
static void add_counter(Integ *t, const char *name, uint64_t start, uint64_t last) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) path = NULL;

        path = integ_call(t, DFUSD_PATH, DFUSD_MANAGER, "AddSequence",
                          g_variant_new("(s@a{sv})", name,
                                        last == UINT64_MAX
                                                ? integ_options("start", g_variant_new_uint64(start), NULL)
                                                : integ_options("start", g_variant_new_uint64(start), "last",
                                                                g_variant_new_uint64(last), NULL)),
                          "(o)", &error);
        g_assert_no_error(error);
        g_assert_nonnull(path);
}

/*
 * The main path: boards listed with their stations, a multipart upload that flashes a simulated board
 * byte-exact, the job with its report, the history as JSON and as CSV, the metrics.
 */
static void test_flash(WebTest *w, gconstpointer data) {
        Integ *t = &w->integ;
        g_autofree uint8_t *pattern = integ_pattern(6000, 7);
        g_autoptr(GBytes) image = ihex_image(w, pattern, 6000, NULL);
        g_autoptr(WebReply) devices = NULL, created = NULL, history = NULL, csv = NULL, metrics = NULL;
        g_autoptr(json_object) dn = NULL, jn = NULL, hn = NULL;
        g_autoptr(GBytes) dump = NULL;
        g_autofree char *state = NULL, *rows = NULL;
        json_object *list, *job;
        gint64 id;

        integ_start(t, &(IntegRun){.boards = 2});
        integ_wait_devices(t, 2, 10);
        add_counter(t, "serials", 1000, UINT64_MAX);
        add_counter(t, "macs", 1, 10);
        web_start(w, NULL);

        devices = web_request(w->port, "GET", "/api/v1/devices", NULL, NULL, NULL, 0);
        g_assert_cmpuint(devices->status, ==, 200);
        dn = parse_json(devices);
        list = member(dn, "devices");
        g_assert_cmpuint(json_object_array_length(list), ==, 2);
        g_assert_cmpstr(member_str(json_object_array_get_idx(list, 0), "port"), ==, "1-1");
        g_assert_cmpstr(member_str(json_object_array_get_idx(list, 0), "station"), ==, "A");

        /* a patch that is no ADDRESS:FORMAT:SEQUENCE is refused before dfusd sees it, naming the entry */
        {
                g_autoptr(WebReply) bad = submit(w, OPERATOR, image,
                                                 "{\"port\": \"1-2\", \"patches\": "
                                                 "[\"0x08000100:u32le:serials\", \"0x100:u33:serials\"]}");
                g_assert_cmpuint(bad->status, ==, 400);
                g_assert_nonnull(strstr(web_reply_text(bad), "Option 'patches', entry 2: "));
                g_assert_nonnull(strstr(web_reply_text(bad), "u33"));
        }
        created = submit(w, OPERATOR, image,
                         "{\"port\": \"1-2\", \"patches\": [\"0x08000100:u32le:serials\"]}");
        if (created->status != 201)
                g_printerr("%s\n", web_reply_text(created));
        g_assert_cmpuint(created->status, ==, 201);
        jn = parse_json(created);
        job = jn;
        id = json_object_get_int64(member(job, "id"));
        {
                g_autofree char *location = g_strdup_printf("/api/v1/jobs/%" G_GINT64_FORMAT, id);
                g_assert_cmpstr(g_hash_table_lookup(created->headers, "location"), ==, location);
        }
        g_assert_cmpstr(member_str(job, "port"), ==, "1-2");
        g_assert_nonnull(member(job, "report"));
        state = wait_job(w, id);
        g_assert_cmpstr(state, ==, "done");
        /* the board's value, taken from the counter as it started */
        {
                g_autofree char *path = g_strdup_printf("/api/v1/jobs/%" G_GINT64_FORMAT, id);
                g_autoptr(WebReply) ended = web_request(w->port, "GET", path, NULL, NULL, NULL, 0);
                g_autoptr(json_object) en = parse_json(ended);
                json_object *values = member(en, "values");

                g_assert_cmpuint(json_object_array_length(values), ==, 1);
                g_assert_cmpstr(member_str(json_object_array_get_idx(values, 0), "sequence"), ==, "serials");
                g_assert_cmpstr(member_str(json_object_array_get_idx(values, 0), "value"), ==, "1000");
        }

        history = web_request(w->port, "GET", "/api/v1/history?port=1-2&limit=10", NULL, NULL, NULL, 0);
        g_assert_cmpuint(history->status, ==, 200);
        hn = parse_json(history);
        list = member(hn, "entries");
        g_assert_cmpuint(json_object_array_length(list), ==, 1);
        g_assert_cmpstr(member_str(json_object_array_get_idx(list, 0), "result"), ==, "done");
        g_assert_nonnull(member(json_object_array_get_idx(list, 0), "cursor"));

        csv = web_request(w->port, "GET", "/api/v1/history", NULL, "Accept: text/csv\r\n", NULL, 0);
        g_assert_cmpuint(csv->status, ==, 200);
        g_assert_true(g_str_has_prefix(g_hash_table_lookup(csv->headers, "content-type"), "text/csv"));
        rows = python(
                "import csv, sys\n"
                "rows = list(csv.DictReader(sys.stdin))\n"
                "assert len(rows) == 1 and rows[0]['result'] == 'done' and rows[0]['port'] == '1-2', rows\n"
                "print(rows[0]['id'])\n",
                web_reply_text(csv));
        g_assert_cmpint(g_ascii_strtoll(rows, NULL, 10), ==, id);

        metrics = web_request(w->port, "GET", "/metrics", NULL, NULL, NULL, 0);
        g_assert_cmpuint(metrics->status, ==, 200);
        g_assert_nonnull(strstr(web_reply_text(metrics), "dfusd_jobs_total{result=\"done\"} 1\n"));
        g_assert_nonnull(
                strstr(web_reply_text(metrics), "dfusd_sequence_values_left{sequence=\"macs\"} 10\n"));
        g_assert_nonnull(
                strstr(web_reply_text(metrics), "dfusd_sequence_values_left{sequence=\"serials\"} +Inf\n"));
        g_assert_nonnull(
                strstr(web_reply_text(metrics), "dfusd_sequence_values_spoiled{sequence=\"macs\"} 0\n"));
        g_autofree char *promtool = g_find_program_in_path("promtool");
        if (!promtool)
                test_skip("promtool (Debian's prometheus) is not installed: the metrics format is not "
                          "checked");
        else {
                g_autofree char *out = python(
                        "import subprocess, sys\n"
                        "p = subprocess.run(['promtool', 'check', 'metrics'], input=sys.stdin.read(),\n"
                        "                   text=True, capture_output=True)\n"
                        "print(p.returncode, p.stdout, p.stderr)\n",
                        web_reply_text(metrics));
                g_test_message("promtool: %s", out);
                g_assert_true(g_str_has_prefix(out, "0 "));
        }

        integ_stop(t);
        dump = integ_dump(t, "1-2");
        g_assert_nonnull(dump);
        memcpy(pattern + 0x100, (const uint8_t[]){0xe8, 0x03, 0x00, 0x00}, 4); /* 1000, u32le */
        integ_assert_flash(dump, FLASH_BASE, FLASH_BASE, pattern, 6000);
}

/* Tokens and roles; every kind of bad request gets its status, and the service stays up. */
static void test_access_and_bad_input(WebTest *w, gconstpointer data) {
        Integ *t = &w->integ;
        g_autofree uint8_t *pattern = integ_pattern(512, 3);
        g_autoptr(GBytes) image = ihex_image(w, pattern, 512, NULL);
        static const char huge[] = "POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " OPERATOR
                                   "\r\nContent-Type: multipart/form-data; boundary=Bnd\r\n"
                                   "Content-Length: 900000000\r\n\r\n--Bnd\r\n";
        /* web_raw() reads to the end: a kept-alive connection would end only at the idle timeout */
        static const char traversal[] =
                "GET /static/../../../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        static const char traversal2[] =
                "GET /static/..%2f..%2fetc%2fpasswd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        static const char garbage[] = "--Bnd\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nabc";

        integ_start(t, &(IntegRun){.boards = 1});
        integ_wait_devices(t, 1, 10);
        web_start(w, "UploadSizeCap=64K\n");

#define CHECK(reply, status, name)                \
        do {                                      \
                g_autoptr(WebReply) _r = (reply); \
                assert_error(_r, status, name);   \
        } while (0)

        /* roles */
        CHECK(submit(w, NULL, image, "{}"), 403, "forbidden");
        CHECK(submit(w, "wrong", image, "{}"), 401, "unauthorized");
        CHECK(web_request(w->port, "GET", "/api/v1/devices", "wrong", NULL, NULL, 0), 401, "unauthorized");
        {
                g_autoptr(GBytes) body = web_multipart("Bnd", &image, 1, "{\"match-port\": \"1-9\"}");
                gsize n;
                const void *d = g_bytes_get_data(body, &n);
                CHECK(web_request(w->port, "POST", "/api/v1/rules", OPERATOR,
                                  "Content-Type: multipart/form-data; boundary=Bnd\r\n", d, n),
                      403, "forbidden");
                g_autoptr(WebReply) ok =
                        web_request(w->port, "POST", "/api/v1/rules", ADMIN,
                                    "Content-Type: multipart/form-data; boundary=Bnd\r\n", d, n);
                if (ok->status != 201)
                        g_printerr("%s\n", web_reply_text(ok));
                g_assert_cmpuint(ok->status, ==, 201);
                g_autoptr(json_object) rn = parse_json(ok);
                g_assert_cmpstr(member_str(member(rn, "options"), "origin"), ==, "web:boss");
                CHECK(web_request(w->port, "DELETE", g_hash_table_lookup(ok->headers, "location"), OPERATOR,
                                  NULL, NULL, 0),
                      403, "forbidden");
                g_autoptr(WebReply) del =
                        web_request(w->port, "DELETE", g_hash_table_lookup(ok->headers, "location"), ADMIN,
                                    NULL, NULL, 0);
                g_assert_cmpuint(del->status, ==, 200);
        }
        {
                /* a reader on loopback needs no token */
                g_autoptr(WebReply) r = web_request(w->port, "GET", "/api/v1/jobs", NULL, NULL, NULL, 0);
                g_assert_cmpuint(r->status, ==, 200);
        }

        /* bad input */
        CHECK(web_raw(w->port, huge, sizeof(huge) - 1), 413, "too-large");
        {
                /* Without Content-Length, junk after the form's end is not read for ever: past twice
                 * the cap (64K here) and the options' room the connection is closed, unanswered. */
                g_autoptr(GByteArray) req = g_byte_array_new();
                g_autofree char *junk = g_strnfill(65536, 'x');
                static const char head[] =
                        "POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " OPERATOR
                        "\r\nContent-Type: multipart/form-data; boundary=Bnd\r\nTransfer-Encoding: "
                        "chunked\r\n\r\n"
                        "45\r\n--Bnd\r\nContent-Disposition: form-data; "
                        "name=\"image\"\r\n\r\nabc\r\n--Bnd--\r\n\r\n";
                g_byte_array_append(req, (const guint8 *)head, sizeof(head) - 1);
                for (unsigned i = 0; i < 16; i++) {
                        g_byte_array_append(req, (const guint8 *)"10000\r\n", 7);
                        g_byte_array_append(req, (const guint8 *)junk, 65536);
                        g_byte_array_append(req, (const guint8 *)"\r\n", 2);
                }
                g_byte_array_append(req, (const guint8 *)"0\r\n\r\n", 5);
                g_autoptr(WebReply) r = web_raw(w->port, req->data, req->len);
                if (r->status != 0)
                        g_printerr("reply %u: %s\n", r->status, web_reply_text(r));
                g_assert_cmpuint(r->status, ==, 0);
        }
        {
                g_autofree uint8_t *big = integ_pattern(100 * 1024, 1);
                g_autoptr(GBytes) bi = g_bytes_new(big, 100 * 1024);
                CHECK(submit(w, OPERATOR, bi, "{}"), 413, "too-large");
        }
        CHECK(web_request(w->port, "POST", "/api/v1/jobs", OPERATOR,
                          "Content-Type: multipart/form-data; boundary=Bnd\r\n", garbage,
                          sizeof(garbage) - 1),
              400, "bad-request");
        CHECK(web_request(w->port, "POST", "/api/v1/jobs", OPERATOR, "Content-Type: multipart/form-data\r\n",
                          "x", 1),
              400, "bad-request");
        CHECK(web_request(w->port, "POST", "/api/v1/jobs", OPERATOR, "Content-Type: application/json\r\n",
                          "{}", 2),
              415, "unsupported-media-type");
        CHECK(submit(w, OPERATOR, image, "{\"port\": \"1-1\", \"frobnicate\": true}"), 400, "bad-request");
        CHECK(submit(w, OPERATOR, image, "{\"port\": "), 400, "bad-request");
        CHECK(submit(w, OPERATOR, image, "{\"origin\": \"me\"}"), 400, "bad-request");
        /* D-Bus strings are UTF-8, and what follows the object is not ignored: each is refused */
        CHECK(submit(w, OPERATOR, image, "{\"port\": \"\xff\"}"), 400, "bad-request");
        CHECK(submit(w, OPERATOR, image, "{\"port\": \"1-1\"} {\"leave\": false}"), 400, "bad-request");
        CHECK(submit(w, OPERATOR, image, "{\"port\": \"9-9\"}"), 409, "no-device");
        {
                static const char junk[] = ":junk\n";
                g_autoptr(GBytes) ji = g_bytes_new_static(junk, sizeof(junk) - 1);
                CHECK(submit(w, OPERATOR, ji, "{\"port\": \"1-1\"}"), 422, "image-rejected");
        }
        CHECK(web_raw(w->port, traversal, sizeof(traversal) - 1), 404, "not-found");
        CHECK(web_raw(w->port, traversal2, sizeof(traversal2) - 1), 404, "not-found");
        CHECK(web_request(w->port, "GET", "/static/.hidden.js", NULL, NULL, NULL, 0), 404, "not-found");
        CHECK(web_request(w->port, "GET", "/api/v1/jobs/999", NULL, NULL, NULL, 0), 404, "not-found");
        CHECK(web_request(w->port, "GET", "/api/v1/jobs/x", NULL, NULL, NULL, 0), 404, "not-found");
        CHECK(web_request(w->port, "GET", "/api/v1/nothing", NULL, NULL, NULL, 0), 404, "not-found");
        CHECK(web_request(w->port, "PUT", "/api/v1/devices", NULL, NULL, NULL, 0), 405,
              "method-not-allowed");
        CHECK(web_request(w->port, "GET", "/api/v1/history?limit=5000", NULL, NULL, NULL, 0), 400,
              "bad-request");
        CHECK(web_request(w->port, "GET", "/api/v1/history?colour=red", NULL, NULL, NULL, 0), 400,
              "bad-request");
        CHECK(web_request(w->port, "GET", "/api/v1/history?result=maybe", NULL, NULL, NULL, 0), 400,
              "bad-request");

        {
                g_autoptr(WebReply) page = web_request(w->port, "GET", "/", NULL, NULL, NULL, 0);
                g_assert_cmpuint(page->status, ==, 200);
                g_assert_nonnull(strstr(web_reply_text(page), "station.js"));
        }
        /* dfusd gone: 503, and back */
        integ_stop(t);
        for (unsigned i = 0; i < 500; i++) {
                g_autoptr(WebReply) r = web_request(w->port, "GET", "/api/v1/devices", NULL, NULL, NULL, 0);
                if (r->status == 503) {
                        assert_error(r, 503, "dfusd-unreachable");
                        break;
                }
                g_assert_cmpuint(i, <, 499);
                g_usleep(10 * 1000);
        }
#undef CHECK
}

/* The event stream: a snapshot first, then the job's changes as they happen, to the end. */
/* Opens the event stream and reads up to its snapshot; *ret_in reads on. Returns the snapshot's data. */
static json_object *events_open(WebTest *w, GSocketConnection **ret_conn, GDataInputStream **ret_in) {
        g_autoptr(GSocketClient) client = g_socket_client_new();
        g_autoptr(GError) error = NULL;
        static const char req[] =
                "GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n";
        bool snapshot = false;
        char *line;

        g_socket_client_set_timeout(client, 30);
        *ret_conn = g_socket_client_connect_to_host(client, "127.0.0.1", w->port, NULL, &error);
        g_assert_no_error(error);
        g_assert_true(g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(*ret_conn)), req,
                                                sizeof(req) - 1, NULL, NULL, &error));
        *ret_in = g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(*ret_conn)));
        while ((line = g_data_input_stream_read_line(*ret_in, NULL, NULL, &error))) {
                g_autofree char *l = line;
                json_object *data;

                if (g_str_has_prefix(l, "event: snapshot"))
                        snapshot = true;
                else if (snapshot && g_str_has_prefix(l, "data: ")) {
                        data = json_tokener_parse(l + 6);
                        g_assert_nonnull(data);
                        return data;
                }
        }
        g_assert_no_error(error);
        g_error("the event stream ended before its snapshot");
}

/* The event stream: a snapshot first, then the job's changes as they happen, to the end. */
static void test_events(WebTest *w, gconstpointer data) {
        Integ *t = &w->integ;
        g_autofree uint8_t *pattern = integ_pattern(4096, 5);
        g_autoptr(GBytes) image = ihex_image(w, pattern, 4096, NULL);
        g_autoptr(GSocketConnection) conn = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GDataInputStream) in = NULL;
        g_autoptr(WebReply) created = NULL;
        g_autoptr(json_object) snapshot = NULL;
        bool done = false;
        char *line;

        integ_start(t, &(IntegRun){.boards = 1});
        integ_wait_devices(t, 1, 10);
        web_start(w, NULL);
        snapshot = events_open(w, &conn, &in);
        created = submit(w, OPERATOR, image, "{}");
        g_assert_cmpuint(created->status, ==, 201);
        /* chunked framing lines come in between; the event lines are what count */
        while (!done && (line = g_data_input_stream_read_line(in, NULL, NULL, &error))) {
                done = g_str_has_prefix(line, "data: {\"id\":") && strstr(line, "\"state\":\"done\"");
                g_free(line);
        }
        g_assert_no_error(error);
        g_assert_true(done);
}

/* Socket activation as dfusd-web.socket does it: the listening socket arrives as fd 3 with LISTEN_FDS
 * and LISTEN_PID, and dfusd-web serves on it rather than binding Listen= itself. */
static void test_socket_activation(WebTest *w, gconstpointer data) {
        Integ *t = &w->integ;
        g_autoptr(GError) error = NULL;
        g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE);
        g_autofree char *tokens = g_build_filename(t->dir, "web-tokens", NULL);
        g_autofree char *conf = NULL, *conf_path = NULL, *line = NULL, *expect = NULL;
        g_autoptr(GDataInputStream) in = NULL;
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
        g_assert_cmpint(listen(fd, 16), ==, 0);
        g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sa, &len), ==, 0);
        w->port = ntohs(sa.sin_port);

        integ_start(t, &(IntegRun){.boards = 1});
        integ_wait_devices(t, 1, 10);
        g_file_set_contents(tokens, "", 0, &error);
        g_assert_no_error(error);
        g_assert_cmpint(chmod(tokens, 0600), ==, 0);
        /* a Listen= that would fail if it were used: the passed socket wins */
        conf = g_strdup_printf("[Web]\nTokensFile=%s\nListen=192.0.2.1:1\nStaticDirectory=%s\n", tokens,
                               g_getenv("DFUSD_WEB_STATIC"));
        conf_path = integ_write_file(t, "web.conf", conf, strlen(conf));
        g_subprocess_launcher_setenv(l, "DBUS_SESSION_BUS_ADDRESS", t->bus_address, TRUE);
        g_subprocess_launcher_setenv(l, "LISTEN_FDS", "1", TRUE);
        g_subprocess_launcher_take_fd(l, fd, 3);
        /* LISTEN_PID is the pid of the process that reads it: the shell's, which exec keeps */
        w->web = g_subprocess_launcher_spawn(l, &error, "/bin/sh", "-c",
                                             "LISTEN_PID=$$ exec \"$0\" --user --config \"$1\"",
                                             g_getenv("DFUSD_WEB"), conf_path, NULL);
        g_assert_no_error(error);
        in = g_data_input_stream_new(g_subprocess_get_stdout_pipe(w->web));
        line = g_data_input_stream_read_line(in, NULL, NULL, &error);
        g_assert_no_error(error);
        expect = g_strdup_printf("dfusd-web: listening on http://(socket):%u/", w->port);
        g_assert_cmpstr(line, ==, expect);
        for (unsigned i = 0;; i++) {
                g_autoptr(WebReply) r = web_request(w->port, "GET", "/api/v1/devices", NULL, NULL, NULL, 0);
                if (r->status == 200) {
                        g_assert_nonnull(strstr(web_reply_text(r), "\"port\":\"1-1\""));
                        break;
                }
                g_assert_cmpuint(i, <, 1000);
                g_usleep(10 * 1000);
        }
}

/* Over TLS: a client that trusts the certificate reads the API and a wrong token is still 401; one
 * that does not trust it stops at the handshake; plain HTTP to the port gets no HTTP answer. */
static const char tls_client[] =
        "import json, socket, ssl, sys, time, urllib.request, urllib.error\n"
        "a = json.load(sys.stdin)\n"
        "url = 'https://127.0.0.1:%d' % a['port']\n"
        "ctx = ssl.create_default_context(cafile=a['ca'])\n"
        "for i in range(1000):\n"
        "    try:\n"
        "        with urllib.request.urlopen(url + '/api/v1/devices', context=ctx, timeout=10) as r:\n"
        "            body = json.load(r)\n"
        "            break\n"
        "    except urllib.error.HTTPError as e:\n"
        "        assert e.code == 503, e.code  # dfusd's objects not read yet\n"
        "        time.sleep(0.01)\n"
        "assert [d['port'] for d in body['devices']] == ['1-1'], body\n"
        "req = urllib.request.Request(url + '/api/v1/jobs', headers={'Authorization': 'Bearer wrong'})\n"
        "try:\n"
        "    urllib.request.urlopen(req, context=ctx, timeout=10)\n"
        "    raise SystemExit('a wrong token was accepted')\n"
        "except urllib.error.HTTPError as e:\n"
        "    assert e.code == 401, e.code\n"
        "try:\n"
        "    urllib.request.urlopen(url + '/api/v1/devices', context=ssl.create_default_context(), "
        "timeout=10)\n"
        "    raise SystemExit('an untrusted certificate was accepted')\n"
        "except urllib.error.URLError as e:\n"
        "    assert isinstance(e.reason, ssl.SSLCertVerificationError), e\n"
        "s = socket.create_connection(('127.0.0.1', a['port']), timeout=10)\n"
        "s.sendall(b'GET /api/v1/devices HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n')\n"
        "data = b''\n"
        "while True:\n"
        "    try:\n"
        "        chunk = s.recv(4096)\n"
        "    except (ConnectionResetError, socket.timeout):\n"
        "        break\n"
        "    if not chunk:\n"
        "        break\n"
        "    data += chunk\n"
        "assert not data.startswith(b'HTTP/'), data[:80]\n"
        "print('ok')\n";

/* TLSCertificate= and TLSKey= serve the API over HTTPS only; off loopback, plain HTTP is refused
 * unless AllowPlainHTTP=yes says otherwise. */
static void test_tls(WebTest *w, gconstpointer data) {
        Integ *t = &w->integ;
        g_autofree char *key = g_build_filename(t->dir, "web.key", NULL);
        g_autofree char *cert = g_build_filename(t->dir, "web.pem", NULL);
        g_autofree char *extra = NULL, *input = NULL, *out = NULL, *err = NULL, *plain_conf = NULL;
        g_autofree char *tokens = g_build_filename(t->dir, "web-tokens", NULL), *plain_path = NULL;
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) env = NULL;
        int status = 0;

        integ_start(t, &(IntegRun){.boards = 1});
        integ_wait_devices(t, 1, 10);
        g_spawn_sync(NULL,
                     (char *[]){"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                                "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key,
                                "-out", cert, NULL},
                     NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, &error);
        g_assert_no_error(error);
        if (!g_spawn_check_wait_status(status, NULL))
                g_error("openssl req failed: %s", err);
        extra = g_strdup_printf("TLSCertificate=%s\nTLSKey=%s\n", cert, key);
        web_start(w, extra);
        input = g_strdup_printf("{\"port\": %u, \"ca\": \"%s\"}", w->port, cert);
        g_free(out);
        out = python(tls_client, input);
        g_assert_cmpstr(out, ==, "ok\n");

        /* the tokens file web_start() wrote, without TLS, on every address */
        plain_conf = g_strdup_printf("[Web]\nTokensFile=%s\n", tokens);
        plain_path = integ_write_file(t, "plain.conf", plain_conf, strlen(plain_conf));
        env = g_environ_setenv(g_get_environ(), "DBUS_SESSION_BUS_ADDRESS", t->bus_address, TRUE);
        g_clear_pointer(&out, g_free);
        g_clear_pointer(&err, g_free);
        g_spawn_sync(NULL,
                     (char *[]){(char *)g_getenv("DFUSD_WEB"), "--user", "--listen", "0.0.0.0:0", "--config",
                                plain_path, NULL},
                     env, 0, NULL, NULL, &out, &err, &status, &error);
        g_assert_no_error(error);
        g_assert_false(g_spawn_check_wait_status(status, NULL));
        g_assert_nonnull(strstr(err, "Refusing plain HTTP on a non-loopback address"));
}

/*
 * Today's counts are all of today's jobs, however many pages of history they take: an old journal of
 * more of today's jobs than one page (and some of yesterday's) is imported by dfusd at start, and the
 * snapshot's strip counts exactly today's.
 */
static void test_today(WebTest *w, gconstpointer data) {
        Integ *t = &w->integ;
        g_autoptr(GDateTime) now_dt = g_date_time_new_now_local();
        g_autoptr(GDateTime) midnight_dt =
                g_date_time_new_local(g_date_time_get_year(now_dt), g_date_time_get_month(now_dt),
                                      g_date_time_get_day_of_month(now_dt), 0, 0, 0);
        guint64 now = (guint64)g_date_time_to_unix(now_dt) * G_USEC_PER_SEC,
                midnight = (guint64)g_date_time_to_unix(midnight_dt) * G_USEC_PER_SEC;
        /* the last few seconds: today and within the hour, unless this runs in the day's first seconds */
        guint64 first = MAX(midnight, now - 10 * G_USEC_PER_SEC);
        g_autoptr(GString) journal = g_string_new(NULL);
        g_autoptr(GSocketConnection) conn = NULL;
        g_autoptr(GDataInputStream) in = NULL;
        g_autoptr(json_object) snapshot = NULL;
        const unsigned n_done = 2300, n_failed = 150, n_yesterday = 40;
        json_object *today;

        for (unsigned i = 0; i < n_done + n_failed + n_yesterday; i++) {
                guint64 end = i < n_yesterday ? midnight - 1000 - i : first + i;
                const char *result = i < n_yesterday || i >= n_yesterday + n_failed ? "done" : "failed";
                g_string_append_printf(journal,
                                       "{\"event\":\"end\",\"id\":%u,\"time\":%" G_GUINT64_FORMAT
                                       ",\"result\":\"%s\",\"port\":\"1-1\",\"target\":\"port=1-1\","
                                       "\"start-time\":%" G_GUINT64_FORMAT ",\"end-time\":%" G_GUINT64_FORMAT
                                       "}\n",
                                       i + 1, end, result, end - 1, end);
        }
        {
                g_autofree char *path = g_build_filename(t->state_dir, "jobs.jsonl", NULL);
                g_assert_true(g_file_set_contents(path, journal->str, (gssize)journal->len, NULL));
        }
        integ_start(t, &(IntegRun){.boards = 1});
        integ_wait_devices(t, 1, 10);
        web_start(w, NULL);
        snapshot = events_open(w, &conn, &in);
        today = member(snapshot, "today");
        g_assert_cmpuint(json_object_get_uint64(member(today, "done")), ==, n_done);
        g_assert_cmpuint(json_object_get_uint64(member(today, "failed")), ==, n_failed);
        g_assert_cmpuint(json_object_get_uint64(member(today, "per_hour")), ==, n_done);
}

/*
 * docs/openapi.yaml against the real thing: tests/web/openapi-check.py sends every operation's success
 * and error paths and validates each response; it asks on its stdout for dfusd to be stopped (for the
 * 503s) and is told on its stdin when it is.
 */
static void test_openapi(WebTest *w, gconstpointer data) {
        Integ *t = &w->integ;
        g_autofree uint8_t *pattern = integ_pattern(2048, 11);
        g_autofree char *image_path = NULL, *script = NULL, *spec = NULL, *line = NULL;
        g_autoptr(GBytes) image = NULL;
        g_autoptr(GSubprocess) p = NULL;
        g_autoptr(GDataInputStream) out = NULL;
        g_autoptr(GError) error = NULL;
        bool stopped = false;

        if (!g_file_test("/usr/lib/python3/dist-packages/jsonschema", G_FILE_TEST_IS_DIR)) {
                test_skip("python3-jsonschema missing (scripts/deps installs it)");
                return;
        }
        /* one open job at most: a job waiting for an empty station makes the next submission busy */
        integ_start(t, &(IntegRun){.boards = 2, .config = "[Daemon]\nMaxQueuedJobs=1\n"});
        integ_wait_devices(t, 2, 10);
        image = ihex_image(w, pattern, 2048, &image_path);
        web_start(w, "UploadSizeCap=64K\n");
        script = g_build_filename(g_getenv("DFUSD_WEB_TESTS"), "openapi-check.py", NULL);
        spec = g_build_filename(g_getenv("DFUSD_WEB_TESTS"), "..", "..", "docs", "openapi.yaml", NULL);
        g_autofree char *web_dir = g_build_filename(g_getenv("DFUSD_WEB_TESTS"), "..", "..", "web", NULL);
        /* Debian's jsonschema is in the system python, whatever python3 comes first on PATH */
        p = g_subprocess_new(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                             "/usr/bin/python3", script, w->url, spec, web_dir, image_path, OPERATOR, ADMIN,
                             VIEWER, NULL);
        g_assert_no_error(error);
        out = g_data_input_stream_new(g_subprocess_get_stdout_pipe(p));
        while ((line = g_data_input_stream_read_line(out, NULL, NULL, &error))) {
                if (g_str_equal(line, "stop-dfusd")) {
                        integ_stop(t);
                        stopped = true;
                        g_assert_true(g_output_stream_write_all(g_subprocess_get_stdin_pipe(p), "stopped\n",
                                                                8, NULL, NULL, &error));
                        g_assert_no_error(error);
                }
                g_clear_pointer(&line, g_free);
        }
        g_assert_no_error(error);
        g_assert_true(g_subprocess_wait(p, NULL, &error));
        g_assert_true(g_subprocess_get_if_exited(p));
        g_assert_cmpint(g_subprocess_get_exit_status(p), ==, 0);
        g_assert_true(stopped);
}

/* The station page in headless Chromium while four boards flash (tests/web/browser.py). */
static void test_browser(WebTest *w, gconstpointer data) {
        Integ *t = &w->integ;
        g_autofree uint8_t *pattern = integ_pattern(96 * 1024, 9);
        g_autofree char *image_path = NULL, *script = NULL, *shot = NULL;
        g_autoptr(GBytes) image = NULL;
        g_autoptr(GSubprocess) p = NULL;
        g_autoptr(GError) error = NULL;

        g_autofree char *chromium = g_find_program_in_path("chromium");
        g_autofree char *chromedriver = g_find_program_in_path("chromedriver");

        if (!chromium || !chromedriver ||
            !g_file_test("/usr/lib/python3/dist-packages/selenium", G_FILE_TEST_IS_DIR)) {
                test_skip("chromium, chromium-driver or python3-selenium missing (scripts/deps installs "
                          "them)");
                return;
        }
        /* slow enough that a tile is seen writing: the boards run at a quarter of datasheet speed */
        integ_start(t, &(IntegRun){.boards = 4,
                                   .time_scale = "0.25",
                                   .script = "board 1-4 unplug phase=write after=10\n"});
        integ_wait_devices(t, 4, 10);
        image = ihex_image(w, pattern, 96 * 1024, &image_path);
        web_start(w, NULL);
        script = g_build_filename(g_getenv("DFUSD_WEB_TESTS"), "browser.py", NULL);
        shot = g_build_filename(g_getenv("DFUSD_WEB_SCREENSHOT_DIR"), "dashboard.png", NULL);
        /* Debian's selenium is in the system python, whatever python3 comes first on PATH */
        p = g_subprocess_new(G_SUBPROCESS_FLAGS_NONE, &error, "/usr/bin/python3", script, w->url, OPERATOR,
                             image_path, shot, t->dir, NULL);
        g_assert_no_error(error);
        g_assert_true(g_subprocess_wait(p, NULL, &error));
        g_assert_true(g_subprocess_get_if_exited(p));
        g_assert_cmpint(g_subprocess_get_exit_status(p), ==, 0);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/web/flash", WebTest, NULL, setup, test_flash, teardown);
        g_test_add("/web/access-and-bad-input", WebTest, NULL, setup, test_access_and_bad_input, teardown);
        g_test_add("/web/events", WebTest, NULL, setup, test_events, teardown);
        g_test_add("/web/today", WebTest, NULL, setup, test_today, teardown);
        g_test_add("/web/tls", WebTest, NULL, setup, test_tls, teardown);
        g_test_add("/web/socket-activation", WebTest, NULL, setup, test_socket_activation, teardown);
        g_test_add("/web/openapi", WebTest, NULL, setup, test_openapi, teardown);
        g_test_add("/web/browser", WebTest, NULL, setup, test_browser, teardown);
        return test_run();
}
