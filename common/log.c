/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* The one piece of process-wide state: the verbosity chosen on the command line. */
static atomic_int max_level = LOG_LEVEL_INFO;

void log_set_max_level(int level) {
        atomic_store(&max_level, level);
}

int log_get_max_level(void) {
        return atomic_load(&max_level);
}

size_t log_escape(const char *src, char *dst, size_t dst_size) {
        size_t n = 0;

        if (dst_size == 0)
                return 0;
        for (const unsigned char *p = (const unsigned char *)src; *p; p++) {
                char esc[5];
                size_t k;

                /* Bytes >= 0x80 are UTF-8 (or Latin-1 from an old tool): readable, never a line end. */
                if (*p == '\n')
                        k = (size_t)snprintf(esc, sizeof(esc), "\\n");
                else if (*p == '\r')
                        k = (size_t)snprintf(esc, sizeof(esc), "\\r");
                else if (*p == '\t')
                        k = (size_t)snprintf(esc, sizeof(esc), "\\t");
                else if (*p < 0x20 || *p == 0x7F)
                        k = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", *p);
                else {
                        esc[0] = (char)*p;
                        k = 1;
                }
                /* Whole escapes only: a cut "\x1" would read as something else. */
                if (n + k >= dst_size)
                        break;
                memcpy(dst + n, esc, k);
                n += k;
        }
        dst[n] = '\0';
        return n;
}

int log_internal(int level, int error, const char *fmt, ...) {
        char buf[2048], line[4 * sizeof(buf)];
        va_list ap;

        error = abs(error);
        if (level > atomic_load(&max_level))
                return -error;

        errno = error;
        va_start(ap, fmt);
        (void)vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);

        /* Messages carry strings from callers (serials, match strings, file names): escaped, none of
         * them can end the line and start one with a priority prefix of its own. */
        (void)log_escape(buf, line, sizeof(line));

        /* One write per line, so that lines from worker threads do not interleave. */
        (void)fprintf(stderr, "<%d>%s\n", level, line);
        return -error;
}
