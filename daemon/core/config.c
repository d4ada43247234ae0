/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "image/image.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "time-util.h"

void config_init(Config *c) {
        *c = (Config){
                .max_parallel = 32,
                .default_verify = true,
                .image_size_cap = IMAGE_SIZE_CAP_DEFAULT,
                .job_linger_usec = 300 * USEC_PER_SEC,
                .max_lingering_jobs = 100,
                .max_queued_jobs = 1024,
                .spool_size_cap = UINT64_C(4) << 30,
                .read_timeout_usec = 30 * USEC_PER_SEC,
        };
}

void config_done(Config *c) {
        for (size_t i = 0; i < c->n_stations; i++) {
                free(c->stations[i].port_path);
                free(c->stations[i].name);
        }
        free(c->stations);
        free(c->ids);
        free(c->state_dir);
        free(c->group);
        free(c->trust_approved_dir);
        free(c->trust_key_dir);
        config_init(c);
}

static int parse_u64(const char *v, uint64_t *ret) {
        char *end;
        errno = 0;
        unsigned long long x = strtoull(v, &end, 0);
        if (errno || end == v || *v == '-')
                return -EINVAL;
        /* Sizes may carry a binary suffix: ImageSizeCap=64M. */
        if (*end == 'K' || *end == 'k')
                x <<= 10, end++;
        else if (*end == 'M')
                x <<= 20, end++;
        else if (*end == 'G')
                x <<= 30, end++;
        if (*end)
                return -EINVAL;
        *ret = x;
        return 0;
}

/* An age: a number with a unit (s, min, h, d, w, y), e.g. "90d"; "infinity" or "0" keep forever. */
static int parse_age(const char *v, uint64_t *ret) {
        static const struct {
                const char *unit;
                uint64_t usec;
        } units[] = {
                {"s", USEC_PER_SEC},         {"min", 60 * USEC_PER_SEC},   {"h", 3600 * USEC_PER_SEC},
                {"d", 86400 * USEC_PER_SEC}, {"w", 604800 * USEC_PER_SEC}, {"y", 31557600 * USEC_PER_SEC},
        };
        char *end;

        if (streq(v, "infinity") || streq(v, "0")) {
                *ret = 0;
                return 0;
        }
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        if (errno || end == v || *v == '-' || n == 0)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (streq(end, units[i].unit)) {
                        if (n > UINT64_MAX / units[i].usec)
                                return -ERANGE;
                        *ret = n * units[i].usec;
                        return 0;
                }
        return -EINVAL;
}

static int add_station(Config *c, const char *port, const char *name) {
        Station *n = realloc(c->stations, sizeof(Station) * (c->n_stations + 1));
        if (!n)
                return -ENOMEM;
        c->stations = n;
        n[c->n_stations] = (Station){strdup(port), strdup(name)};
        if (!n[c->n_stations].port_path || !n[c->n_stations].name)
                return -ENOMEM;
        c->n_stations++;
        return 0;
}

/* "VID:PID = description"; inih splits the line at the ':', so the two halves are joined again here. */
static int add_id(Config *c, const char *key, const char *value) {
        char buf[256];
        unsigned vid, pid;
        int n = 0;

        if (strchr(key, ':'))
                (void)snprintf(buf, sizeof(buf), "%s", key);
        else
                (void)snprintf(buf, sizeof(buf), "%s:%s", key, value);
        if (sscanf(buf, "%x:%x%n", &vid, &pid, &n) != 2 || vid > 0xFFFF || pid > 0xFFFF ||
            !strchr("= \t", buf[n]))
                return -EINVAL;
        UsbId *ids = realloc(c->ids, sizeof(UsbId) * (c->n_ids + 1));
        if (!ids)
                return -ENOMEM;
        c->ids = ids;
        ids[c->n_ids++] = (UsbId){(uint16_t)vid, (uint16_t)pid};
        return 0;
}

static int set_string(char **p, const char *v) {
        free(*p);
        *p = strdup(v);
        return *p ? 0 : -ENOMEM;
}

static int trust_handler(Config *c, const char *key, const char *value) {
        if (!strcasecmp(key, "Mode")) {
                TrustMode m = trust_mode_from_string(value);
                if (m < 0)
                        return -EINVAL;
                c->trust_mode = m;
                return 0;
        }
        /* Relative directories would depend on the daemon's working directory. */
        if (value[0] != '/')
                return -EINVAL;
        if (!strcasecmp(key, "ApprovedDirectory"))
                return set_string(&c->trust_approved_dir, value);
        if (!strcasecmp(key, "KeyDirectory"))
                return set_string(&c->trust_key_dir, value);
        return -EINVAL;
}

typedef struct ConfigParse {
        Config *config;
        const char *path;
} ConfigParse;

static int config_handler(void *userdata, const char *section, const char *key, const char *value) {
        ConfigParse *p = userdata;
        Config *c = p->config;
        uint64_t u;
        int r = 0;

        if (!strcasecmp(section, "Stations"))
                r = add_station(c, key, value);
        else if (!strcasecmp(section, "Trust"))
                r = trust_handler(c, key, value);
        else if (!strcasecmp(section, "Devices"))
                r = add_id(c, key, value);
        else if (strcasecmp(section, "Daemon"))
                r = -EINVAL;
        else if (!strcasecmp(key, "MaxParallel")) {
                r = parse_u64(value, &u);
                if (r >= 0 && (u < 1 || u > 1024))
                        r = -ERANGE;
                if (r >= 0)
                        c->max_parallel = (unsigned)u;
        } else if (!strcasecmp(key, "DefaultVerify"))
                r = parse_boolean(value, &c->default_verify);
        else if (!strcasecmp(key, "ImageSizeCap")) {
                r = parse_u64(value, &u);
                if (r >= 0)
                        c->image_size_cap = u;
        } else if (!strcasecmp(key, "JobLinger") || !strcasecmp(key, "ReadTimeout")) {
                r = parse_u64(value, &u);
                if (r >= 0 && u > UINT64_MAX / USEC_PER_SEC)
                        r = -ERANGE;
                if (r >= 0)
                        *(!strcasecmp(key, "JobLinger") ? &c->job_linger_usec : &c->read_timeout_usec) =
                                u * USEC_PER_SEC;
        } else if (!strcasecmp(key, "MaxLingeringJobs")) {
                r = parse_u64(value, &u);
                if (r >= 0 && u > 100000)
                        r = -ERANGE;
                if (r >= 0)
                        c->max_lingering_jobs = (unsigned)u;
        } else if (!strcasecmp(key, "MaxQueuedJobs")) {
                r = parse_u64(value, &u);
                if (r >= 0 && (u < 1 || u > 100000))
                        r = -ERANGE;
                if (r >= 0)
                        c->max_queued_jobs = (unsigned)u;
        } else if (!strcasecmp(key, "SpoolSizeCap")) {
                r = parse_u64(value, &u);
                if (r >= 0)
                        c->spool_size_cap = u;
        } else if (!strcasecmp(key, "HistoryRetention"))
                r = parse_age(value, &c->history_retention_usec);
        else if (!strcasecmp(key, "StateDirectory") || !strcasecmp(key, "SpoolDirectory"))
                r = set_string(&c->state_dir, value);
        else if (!strcasecmp(key, "Group"))
                r = set_string(&c->group, value);
        else
                r = -EINVAL;

        if (r == -ENOMEM)
                return 0;
        if (r < 0)
                log_warning("%s: ignoring [%s] %s=%s: %s.", p->path, section, key, value,
                            r == -ERANGE ? "out of range" : "not understood");
        return 1;
}

int config_load(Config *c, const char *path) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f) {
                if (errno == ENOENT)
                        return 0;
                return log_error_errno(errno, "Failed to open %s: %m", path);
        }
        int line = ini_parse_file(f, config_handler, &(ConfigParse){c, path});
        if (line != 0)
                return log_error_errno(EINVAL, "Failed to parse %s, line %d.", path, line);
        return 0;
}

const char *config_station(const Config *c, const char *port_path) {
        for (size_t i = 0; i < c->n_stations; i++)
                if (streq(c->stations[i].port_path, port_path))
                        return c->stations[i].name;
        return NULL;
}

bool config_wants_id(const Config *c, uint16_t vid, uint16_t pid) {
        if (vid == 0x0483 && pid == 0xDF11)
                return true;
        for (size_t i = 0; i < c->n_ids; i++)
                if (c->ids[i].vid == vid && c->ids[i].pid == pid)
                        return true;
        return false;
}

const char *config_trust_approved_dir(const Config *c) {
        return c->trust_approved_dir ?: TRUST_APPROVED_DIR_DEFAULT;
}

const char *config_trust_key_dir(const Config *c) {
        return c->trust_key_dir ?: TRUST_KEY_DIR_DEFAULT;
}

void config_log_trust(const Config *c) {
        switch (c->trust_mode) {
        case TRUST_ALLOWLIST:
                log_info("Trust: only images listed in %s/*.sha256 are accepted.",
                         config_trust_approved_dir(c));
                break;
        case TRUST_SIGNED:
                log_info("Trust: only images signed with a key of %s/*.pem are accepted.",
                         config_trust_key_dir(c));
                break;
        default:
                log_notice("Trust: Mode=off, any image is accepted; set [Trust] Mode=allowlist or signed in "
                           "dfusd.conf to accept only approved ones.");
        }
}
