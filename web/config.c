/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "config.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"

#ifndef DFUSD_WEB_STATIC_DIR
#define DFUSD_WEB_STATIC_DIR "/usr/share/dfusd/web"
#endif
#ifndef DFUSD_SYSCONF_DIR
#define DFUSD_SYSCONF_DIR "/etc"
#endif

void web_config_init(WebConfig *c) {
        *c = (WebConfig){
                .loopback_read = true,
                /* dfusd's own default ImageSizeCap=: a larger upload could never be flashed */
                .upload_size_cap = UINT64_C(64) << 20,
                .max_connections = 256,
                .max_connections_per_ip = 64,
                .max_sse_clients = 128,
                .connection_timeout_sec = 30,
        };
}

void web_config_done(WebConfig *c) {
        free(c->listen);
        free(c->tokens_file);
        free(c->tls_certificate);
        free(c->tls_key);
        free(c->static_dir);
        free(c->daemon_config);
        for (size_t i = 0; i < c->n_stations; i++) {
                free(c->stations[i].port);
                free(c->stations[i].name);
        }
        free(c->stations);
        web_config_init(c);
}

static int set_string(char **p, const char *v) {
        char *s = strdup(v);
        if (!s)
                return -ENOMEM;
        free(*p);
        *p = s;
        return 0;
}

/* A size with an optional K, M or G (powers of 1024), as dfusd.conf's ImageSizeCap= takes it. */
static int parse_size(const char *v, uint64_t *ret) {
        char digits[32];
        size_t n = strspn(v, "0123456789");
        unsigned shift = 0;
        uint64_t u;
        int r;

        if (n == 0 || n >= sizeof(digits))
                return -EINVAL;
        if (v[n] && (v[n + 1] || !strchr("KMG", v[n])))
                return -EINVAL;
        shift = v[n] == 'K' ? 10 : v[n] == 'M' ? 20 : v[n] == 'G' ? 30 : 0;
        memcpy(digits, v, n);
        digits[n] = '\0';
        r = parse_uint64(digits, 10, UINT64_MAX >> shift, &u);
        if (r < 0)
                return r;
        *ret = u << shift;
        return 0;
}

static int parse_unsigned(const char *v, unsigned min, unsigned max, unsigned *ret) {
        uint64_t u;
        int r = parse_uint64(v, 10, max, &u);
        if (r < 0)
                return r;
        if (u < min)
                return -ERANGE;
        *ret = (unsigned)u;
        return 0;
}

static int web_handler(WebConfig *c, const char *key, const char *value) {
        if (!strcasecmp(key, "Listen"))
                return set_string(&c->listen, value);
        if (!strcasecmp(key, "TokensFile"))
                return set_string(&c->tokens_file, value);
        if (!strcasecmp(key, "TLSCertificate"))
                return set_string(&c->tls_certificate, value);
        if (!strcasecmp(key, "TLSKey"))
                return set_string(&c->tls_key, value);
        if (!strcasecmp(key, "AllowPlainHTTP"))
                return parse_boolean(value, &c->allow_plain_http);
        if (!strcasecmp(key, "LoopbackRead"))
                return parse_boolean(value, &c->loopback_read);
        if (!strcasecmp(key, "StaticDirectory"))
                return set_string(&c->static_dir, value);
        if (!strcasecmp(key, "DaemonConfig"))
                return set_string(&c->daemon_config, value);
        if (!strcasecmp(key, "UploadSizeCap"))
                return parse_size(value, &c->upload_size_cap);
        if (!strcasecmp(key, "MaxConnections"))
                return parse_unsigned(value, 4, 65536, &c->max_connections);
        if (!strcasecmp(key, "MaxConnectionsPerIP"))
                return parse_unsigned(value, 1, 65536, &c->max_connections_per_ip);
        if (!strcasecmp(key, "MaxEventClients"))
                return parse_unsigned(value, 1, 65536, &c->max_sse_clients);
        if (!strcasecmp(key, "ConnectionTimeoutSec"))
                return parse_unsigned(value, 1, 3600, &c->connection_timeout_sec);
        return -EINVAL;
}

typedef struct ConfigParse {
        WebConfig *config;
        const char *path;
        bool stations; /* reading dfusd.conf: only [Stations] counts there */
} ConfigParse;

static int add_station(WebConfig *c, const char *port, const char *name) {
        WebStation *n = realloc(c->stations, sizeof(WebStation) * (c->n_stations + 1));
        if (!n)
                return -ENOMEM;
        c->stations = n;
        n[c->n_stations] = (WebStation){strdup(port), strdup(name)};
        if (!n[c->n_stations].port || !n[c->n_stations].name) {
                free(n[c->n_stations].port);
                free(n[c->n_stations].name);
                return -ENOMEM;
        }
        c->n_stations++;
        return 0;
}

static int config_handler(void *userdata, const char *section, const char *key, const char *value) {
        ConfigParse *p = userdata;
        int r;

        if (p->stations) {
                if (strcasecmp(section, "Stations"))
                        return 1;
                r = add_station(p->config, key, value);
        } else if (strcasecmp(section, "Web"))
                r = -EINVAL;
        else
                r = web_handler(p->config, key, value);
        if (r == -ENOMEM)
                return 0;
        if (r < 0)
                log_warning("%s: ignoring [%s] %s=%s: %s.", p->path, section, key, value,
                            r == -ERANGE ? "out of range" : "not understood");
        return 1;
}

static int load_file(WebConfig *c, const char *path, bool must_exist, bool stations) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        int line;

        if (!f) {
                if (errno == ENOENT && !must_exist)
                        return 0;
                return log_error_errno(errno, "Failed to open %s: %m", path);
        }
        line = ini_parse_file(f, config_handler, &(ConfigParse){c, path, stations});
        if (line < 0)
                return log_oom();
        if (line != 0)
                return log_error_errno(EINVAL, "Failed to parse %s, line %d.", path, line);
        return 0;
}

static int default_string(char **p, const char *v) {
        return *p ? 0 : set_string(p, v);
}

int web_config_load(WebConfig *c, const char *path, bool must_exist) {
        int r;

        r = load_file(c, path, must_exist, false);
        if (r < 0)
                return r;
        if (default_string(&c->listen, "127.0.0.1:8710") < 0 ||
            default_string(&c->tokens_file, DFUSD_SYSCONF_DIR "/dfusd/web-tokens") < 0 ||
            default_string(&c->static_dir, DFUSD_WEB_STATIC_DIR) < 0 ||
            default_string(&c->daemon_config, DFUSD_SYSCONF_DIR "/dfusd/dfusd.conf") < 0)
                return log_oom();
        if (!!c->tls_certificate != !!c->tls_key)
                return log_error_errno(EINVAL, "%s: TLSCertificate= and TLSKey= go together.", path);
        return load_file(c, c->daemon_config, false, true);
}

const char *web_config_station(const WebConfig *c, const char *port) {
        for (size_t i = 0; port && i < c->n_stations; i++)
                if (streq(c->stations[i].port, port))
                        return c->stations[i].name;
        return NULL;
}

int web_parse_listen(const char *s, void *ret_sockaddr, unsigned *ret_len, bool *ret_loopback) {
        _cleanup_free_ char *host = NULL;
        const char *colon;
        uint64_t port;

        if (s[0] == '[') {
                const char *end = strchr(s, ']');
                if (!end || end[1] != ':')
                        return -EINVAL;
                host = strndup(s + 1, (size_t)(end - s - 1));
                colon = end + 1;
        } else {
                colon = strrchr(s, ':');
                if (!colon)
                        return -EINVAL;
                host = strndup(s, (size_t)(colon - s));
        }
        if (!host)
                return -ENOMEM;
        if (parse_uint64(colon + 1, 10, 65535, &port) < 0)
                return -EINVAL;

        struct sockaddr_in *in4 = ret_sockaddr;
        struct sockaddr_in6 *in6 = ret_sockaddr;
        memset(in6, 0, sizeof(*in6));
        if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
                in4->sin_family = AF_INET;
                in4->sin_port = htons((uint16_t)port);
                *ret_len = sizeof(*in4);
                *ret_loopback = (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
                return AF_INET;
        }
        if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons((uint16_t)port);
                *ret_len = sizeof(*in6);
                *ret_loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
                return AF_INET6;
        }
        return -EINVAL;
}
