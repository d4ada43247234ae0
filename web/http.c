/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "bus-json.h"
#include "http.h"
#include "log.h"
#include "routes.h"
#include "sse.h"
#include "web.h"

/* after the bus (SD_EVENT_PRIORITY_NORMAL), before idle work */
#define HTTP_PRIORITY (SD_EVENT_PRIORITY_NORMAL + 10)

struct Http {
        Web *web;
        struct MHD_Daemon *mhd;
        sd_event_source *io, *timer, *kick;
        char *tls_key, *tls_cert;
};

static void http_run(Http *h) {
        MHD_UNSIGNED_LONG_LONG timeout;
        uint64_t now;

        (void)MHD_run(h->mhd);
        if (MHD_get_timeout(h->mhd, &timeout) == MHD_YES &&
            sd_event_now(h->web->event, CLOCK_MONOTONIC, &now) >= 0) {
                (void)sd_event_source_set_time(h->timer, now + timeout * 1000);
                (void)sd_event_source_set_enabled(h->timer, SD_EVENT_ONESHOT);
        } else
                (void)sd_event_source_set_enabled(h->timer, SD_EVENT_OFF);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        http_run(userdata);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        http_run(userdata);
        return 0;
}

static int on_kick(sd_event_source *s, void *userdata) {
        Http *h = userdata;
        (void)sd_event_source_set_enabled(h->kick, SD_EVENT_OFF);
        http_run(h);
        return 0;
}

void http_kick(Http *h) {
        if (h)
                (void)sd_event_source_set_enabled(h->kick, SD_EVENT_ONESHOT);
}

void http_add_common_headers(struct MHD_Response *resp) {
        /* The page loads nothing from elsewhere; saying so stops injected markup from doing it. */
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
}

static enum MHD_Result queue(Request *r, unsigned status, struct MHD_Response *resp) {
        enum MHD_Result ret;

        if (!resp)
                return MHD_NO;
        http_add_common_headers(resp);
        /* A refused upload may still be on its way: closing is the only way not to read it. */
        if (status >= 400 && !streq(r->method, "GET") && !streq(r->method, "HEAD"))
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
        ret = MHD_queue_response(r->conn, status, resp);
        MHD_destroy_response(resp);
        r->answered = true;
        return ret;
}

enum MHD_Result http_reply_text(Request *r, unsigned status, const char *content_type, char *text,
                                size_t len) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);

        if (!resp) {
                free(text);
                return MHD_NO;
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        return queue(r, status, resp);
}

enum MHD_Result http_reply_json(Request *r, unsigned status, json_object *body) {
        const char *s;
        char *copy;

        if (!body)
                return MHD_NO;
        s = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
        copy = s ? strdup(s) : NULL;
        if (!copy)
                return MHD_NO;
        return http_reply_text(r, status, "application/json", copy, strlen(copy));
}

enum MHD_Result http_reply_error(Request *r, unsigned status, const char *name, const char *fmt, ...) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        _cleanup_free_ char *message = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&message, fmt, ap) < 0)
                message = NULL;
        va_end(ap);
        if (!o || !message)
                return MHD_NO;
        json_object_object_add(o, "error", json_object_new_string(name));
        json_object_object_add(o, "message", json_object_new_string(message));
        return http_reply_json(r, status, o);
}

enum MHD_Result http_reply_bus_error(Request *r, const sd_bus_error *error, int err, const char *what) {
        static const struct {
                const char *bus_name, *name;
                unsigned status;
        } map[] = {
                {"org.dfusd.Flash1.Error.ImageRejected", "image-rejected", MHD_HTTP_UNPROCESSABLE_CONTENT},
                {"org.dfusd.Flash1.Error.NoDevice", "no-device", MHD_HTTP_CONFLICT},
                {"org.dfusd.Flash1.Error.Busy", "busy", MHD_HTTP_CONFLICT},
                {"org.dfusd.Flash1.Error.Cancelled", "cancelled", MHD_HTTP_CONFLICT},
                {"org.dfusd.Flash1.Error.Failed", "failed", MHD_HTTP_CONFLICT},
                {"org.dfusd.Flash1.Error.AccessDenied", "access-denied", MHD_HTTP_FORBIDDEN},
                {"org.dfusd.Flash1.Error.NotFound", "not-found", MHD_HTTP_NOT_FOUND},
                {SD_BUS_ERROR_UNKNOWN_OBJECT, "not-found", MHD_HTTP_NOT_FOUND},
                {SD_BUS_ERROR_INVALID_ARGS, "bad-request", MHD_HTTP_BAD_REQUEST},
                {SD_BUS_ERROR_SERVICE_UNKNOWN, "dfusd-unreachable", MHD_HTTP_SERVICE_UNAVAILABLE},
                {SD_BUS_ERROR_NAME_HAS_NO_OWNER, "dfusd-unreachable", MHD_HTTP_SERVICE_UNAVAILABLE},
                {SD_BUS_ERROR_NO_REPLY, "dfusd-unreachable", MHD_HTTP_SERVICE_UNAVAILABLE},
                {SD_BUS_ERROR_DISCONNECTED, "dfusd-unreachable", MHD_HTTP_SERVICE_UNAVAILABLE},
                {SD_BUS_ERROR_ACCESS_DENIED, "access-denied", MHD_HTTP_FORBIDDEN},
        };
        const char *message = error && error->message ? error->message : strerror(err < 0 ? -err : EIO);

        for (size_t i = 0; error && i < ELEMENTSOF(map); i++)
                if (sd_bus_error_has_name(error, map[i].bus_name))
                        return http_reply_error(r, map[i].status, map[i].name, "%s", message);
        if (!sd_bus_error_is_set(error) || strncmp(error->name, "System.Error.", 13) == 0)
                return http_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "dfusd-unreachable",
                                        "Failed to %s: dfusd is not reachable (%s).", what, message);
        return http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "Failed to %s: %s", what,
                                message);
}

const char *http_header(Request *r, const char *name) {
        return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *http_query(Request *r, const char *name) {
        return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

bool http_require(Request *r, WebRole role, enum MHD_Result *ret) {
        if (r->role >= role)
                return true;
        if (r->role == ROLE_NONE) {
                struct MHD_Response *resp;
                _cleanup_(json_object_putp) json_object *o = json_object_new_object();
                const char *s;

                json_object_object_add(o, "error", json_object_new_string("unauthorized"));
                json_object_object_add(
                        o, "message",
                        json_object_new_string("A token is needed: \"Authorization: Bearer SECRET\"."));
                s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
                resp = MHD_create_response_from_buffer(strlen(s), (void *)s, MHD_RESPMEM_MUST_COPY);
                if (!resp) {
                        *ret = MHD_NO;
                        return false;
                }
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
                MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"dfusd\"");
                *ret = queue(r, MHD_HTTP_UNAUTHORIZED, resp);
                return false;
        }
        if (!r->token)
                *ret = http_reply_error(r, MHD_HTTP_FORBIDDEN, "forbidden",
                                        "Without a token this client may only read; this needs role %s.",
                                        role_to_string(role));
        else
                *ret = http_reply_error(r, MHD_HTTP_FORBIDDEN, "forbidden",
                                        "Token '%s' has role %s; this needs %s.", r->token->name,
                                        role_to_string(r->role), role_to_string(role));
        return false;
}

static bool client_is_loopback(struct MHD_Connection *conn) {
        const union MHD_ConnectionInfo *ci =
                MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const struct sockaddr *sa = ci ? ci->client_addr : NULL;

        if (!sa)
                return false;
        if (sa->sa_family == AF_INET)
                return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
        if (sa->sa_family == AF_INET6) {
                const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
                return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
        }
        return sa->sa_family == AF_UNIX;
}

/* Who the client is: a token's role, a loopback reader, or nobody. A wrong token is never
 * downgraded to the loopback default, so a typo shows as 401 rather than as missing rights. */
static void authenticate(Request *r, bool *bad_token) {
        const char *auth = http_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
        const char *secret = auth_request_secret(auth, r->method, http_query(r, "access_token"));

        *bad_token = false;
        if (secret || auth) {
                r->token = tokens_find(r->web->tokens, secret);
                r->role = r->token ? r->token->role : ROLE_NONE;
                *bad_token = !r->token;
                return;
        }
        r->role = r->web->config.loopback_read && client_is_loopback(r->conn) ? ROLE_VIEWER : ROLE_NONE;
}

static enum MHD_Result dispatch(Request *r) {
        const char *url = r->url;

        if (strncmp(url, "/api/v1/", 8) == 0)
                return routes_api(r, url + 8);
        if (streq(url, "/metrics"))
                return routes_metrics(r);
        if (strncmp(url, "/api/", 5) == 0)
                return http_reply_error(r, MHD_HTTP_NOT_FOUND, "not-found", "No such API endpoint.");
        return routes_static(r, url);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
        Web *w = cls;
        Request *r = *con_cls;

        if (!r) {
                bool bad_token;

                r = calloc(1, sizeof(*r));
                if (!r)
                        return MHD_NO;
                *r = (Request){.web = w, .conn = conn, .method = method, .url = url};
                *con_cls = r;
                authenticate(r, &bad_token);
                if (bad_token)
                        return http_reply_error(r, MHD_HTTP_UNAUTHORIZED, "unauthorized", "Unknown token.");
                if (routes_upload_wants(method, url))
                        return routes_upload_begin(r);
                return MHD_YES;
        }
        if (r->answered) {
                /* an early answer (401, 413, ...): what the client still sends is dropped unread */
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (r->upload) {
                if (*upload_data_size > 0)
                        return routes_upload_feed(r, upload_data, upload_data_size);
                return routes_upload_finish(r);
        }
        if (*upload_data_size > 0)
                return http_reply_error(r, MHD_HTTP_BAD_REQUEST, "bad-request",
                                        "This request takes no body.");
        if (!streq(method, "GET") && !streq(method, "HEAD") && !streq(method, "DELETE"))
                return http_reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method-not-allowed",
                                        "%s is not allowed here.", method);
        return dispatch(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
        Request *r = *con_cls;

        if (!r)
                return;
        routes_upload_free(r->upload);
        free(r);
        *con_cls = NULL;
}

/* The format is libmicrohttpd's own, not ours to check. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
        _cleanup_free_ char *s = NULL;

        if (vasprintf(&s, fmt, ap) < 0)
                return;
        s[strcspn(s, "\n")] = '\0';
        log_info("HTTP: %s", s);
}
#pragma GCC diagnostic pop

static int read_pem(const char *path, char **ret) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        _cleanup_free_ char *buf = NULL;
        size_t n;

        if (!f)
                return log_error_errno(errno, "Failed to open %s: %m", path);
        buf = calloc(1, 64 * 1024 + 1);
        if (!buf)
                return log_oom();
        n = fread(buf, 1, 64 * 1024, f);
        if (ferror(f) || n == 64 * 1024)
                return log_error_errno(EINVAL, "Failed to read %s (or it is larger than 64 KiB).", path);
        *ret = TAKE_PTR(buf);
        return 0;
}

int http_start(Web *w, Http **ret) {
        const WebConfig *c = &w->config;
        struct sockaddr_in6 addr;
        unsigned addr_len = 0;
        bool loopback = false, tls = c->tls_certificate && c->tls_key;
        unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
        int listen_fd = -1, family = AF_INET, r;
        const union MHD_DaemonInfo *info;
        Http *h;

        r = sd_listen_fds(true);
        if (r < 0)
                return log_error_errno(r, "Failed to read the sockets systemd passed: %m");
        if (r > 1)
                return log_error_errno(EINVAL, "Expected one socket from systemd, got %d.", r);
        if (r == 1) {
                struct sockaddr_storage ss;
                socklen_t len = sizeof(ss);
                listen_fd = SD_LISTEN_FDS_START;
                if (getsockname(listen_fd, (struct sockaddr *)&ss, &len) < 0)
                        return log_error_errno(errno, "Failed to read the passed socket's address: %m");
                family = ss.ss_family;
                loopback = (family == AF_INET &&
                            (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127) ||
                           (family == AF_INET6 &&
                            IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&ss)->sin6_addr));
        } else {
                family = web_parse_listen(c->listen, &addr, &addr_len, &loopback);
                if (family < 0)
                        return log_error_errno(EINVAL, "Listen=%s is not ADDR:PORT.", c->listen);
        }
        /* Tokens cross the network in the clear without TLS: off loopback that takes a decision. */
        if (!loopback && !tls && !c->allow_plain_http)
                return log_error_errno(
                        EPERM, "Refusing plain HTTP on a non-loopback address: set TLSCertificate= and "
                               "TLSKey=, or AllowPlainHTTP=yes.");

        h = calloc(1, sizeof(*h));
        if (!h)
                return log_oom();
        h->web = w;
        if (tls &&
            (read_pem(c->tls_key, &h->tls_key) < 0 || read_pem(c->tls_certificate, &h->tls_cert) < 0)) {
                http_free(h);
                return -EINVAL;
        }
        if (family == AF_INET6)
                flags |= MHD_USE_IPv6;
        if (tls)
                flags |= MHD_USE_TLS;
        h->mhd = MHD_start_daemon(
                flags, 0, NULL, NULL, on_request, w, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_CONNECTION_LIMIT,
                (unsigned)c->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                (unsigned)c->max_connections_per_ip, MHD_OPTION_CONNECTION_TIMEOUT,
                (unsigned)c->connection_timeout_sec,
                /* request line and headers must fit here: a flood of headers is refused, not buffered */
                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
                listen_fd >= 0 ? MHD_OPTION_LISTEN_SOCKET : MHD_OPTION_SOCK_ADDR,
                listen_fd >= 0 ? (void *)(intptr_t)listen_fd : (void *)&addr,
                tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, h->tls_key, MHD_OPTION_HTTPS_MEM_CERT,
                h->tls_cert, MHD_OPTION_END);
        if (!h->mhd) {
                http_free(h);
                return log_error_errno(EADDRNOTAVAIL, "Failed to start the HTTP server on %s.",
                                       listen_fd >= 0 ? "the socket systemd passed" : c->listen);
        }
        info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
        r = info ? sd_event_add_io(w->event, &h->io, info->epoll_fd, EPOLLIN, on_io, h) : -EIO;
        if (r >= 0)
                r = sd_event_add_time(w->event, &h->timer, CLOCK_MONOTONIC, 0, 0, on_timer, h);
        if (r >= 0)
                r = sd_event_source_set_enabled(h->timer, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_defer(w->event, &h->kick, on_kick, h);
        if (r >= 0)
                r = sd_event_source_set_enabled(h->kick, SD_EVENT_OFF);
        /* dfusd's signals come in bursts (32 boards report at once): the server runs once the bus
         * is read, so each stream gets the burst in one write rather than one write per signal */
        if (r >= 0)
                r = sd_event_source_set_priority(h->io, HTTP_PRIORITY);
        if (r >= 0)
                r = sd_event_source_set_priority(h->timer, HTTP_PRIORITY);
        if (r >= 0)
                r = sd_event_source_set_priority(h->kick, HTTP_PRIORITY);
        if (r < 0) {
                http_free(h);
                return log_error_errno(r, "Failed to add the HTTP server to the event loop: %m");
        }
        info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
        /* tests and the demo read this line to learn the port when they asked for port 0 */
        printf("dfusd-web: listening on %s://%s:%u/\n", tls ? "https" : "http",
               listen_fd >= 0 ? "(socket)"
                              : strndupa(c->listen, (size_t)(strrchr(c->listen, ':') - c->listen)),
               info ? info->port : 0);
        fflush(stdout);
        *ret = h;
        return 0;
}

Http *http_free(Http *h) {
        if (!h)
                return NULL;
        sd_event_source_disable_unref(h->io);
        sd_event_source_disable_unref(h->timer);
        sd_event_source_disable_unref(h->kick);
        if (h->mhd) {
                /* streams parked for the next event must be let go before the server can stop */
                if (h->web->sse)
                        sse_close_all(h->web->sse);
                (void)MHD_run(h->mhd);
                MHD_stop_daemon(h->mhd);
        }
        free(h->tls_key);
        free(h->tls_cert);
        free(h);
        return NULL;
}
