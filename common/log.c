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

int log_internal(int level, int error, const char *fmt, ...) {
        char buf[2048];
        va_list ap;

        error = abs(error);
        if (level > atomic_load(&max_level))
                return -error;

        errno = error;
        va_start(ap, fmt);
        (void)vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);

        /* One write per line, so that lines from worker threads do not interleave. */
        (void)fprintf(stderr, "<%d>%s\n", level, buf);
        return -error;
}
