/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A port path with the station name dfusd.conf gives it, in the file's order. */
typedef struct WebStation {
        char *port, *name;
} WebStation;

typedef struct WebConfig {
        char *listen; /* ADDR:PORT */
        char *tokens_file;
        char *tls_certificate, *tls_key;
        bool allow_plain_http;
        bool loopback_read; /* clients on loopback may read without a token */
        char *static_dir;
        char *daemon_config; /* dfusd.conf, for its [Stations] */
        uint64_t upload_size_cap;
        unsigned max_connections, max_connections_per_ip, max_sse_clients;
        unsigned connection_timeout_sec;
        WebStation *stations;
        size_t n_stations;
} WebConfig;

void web_config_init(WebConfig *c);
void web_config_done(WebConfig *c);
/* Reads the [Web] section of PATH (a missing file is fine unless must_exist), then the [Stations]
 * of DaemonConfig=. Returns 0 or a negative errno, logged. */
int web_config_load(WebConfig *c, const char *path, bool must_exist);
const char *web_config_station(const WebConfig *c, const char *port);
/* "ADDR:PORT" or "[ADDR6]:PORT" into a socket address; -EINVAL when malformed. */
int web_parse_listen(const char *s, void *ret_sockaddr, unsigned *ret_len, bool *ret_loopback);
