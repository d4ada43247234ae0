/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "macro.h"
#include "parse-util.h"

int parse_uint64(const char *s, int base, uint64_t max, uint64_t *ret) {
        unsigned long long v;
        char *end;

        if (!s || !s[0] || s[0] == '-')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, base);
        if (errno == ERANGE)
                return -ERANGE;
        if (errno != 0 || end == s || *end != '\0')
                return -EINVAL;
        if (v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int parse_boolean(const char *v, bool *ret) {
        if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcasecmp(v, "on") || streq(v, "1"))
                *ret = true;
        else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcasecmp(v, "off") || streq(v, "0"))
                *ret = false;
        else
                return -EINVAL;
        return 0;
}
