/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

int dfu_error_set(DfuError *e, int code, const char *fmt, ...) {
        va_list ap;

        code = abs(code);
        if (code == 0)
                code = EIO;
        if (!e || e->code)
                return -code;

        e->code = code;
        va_start(ap, fmt);
        (void)vsnprintf(e->message, sizeof(e->message), fmt, ap);
        va_end(ap);
        return -code;
}

int dfu_error_prefix(DfuError *e, const char *fmt, ...) {
        char prefix[256], old[sizeof(e->message)];
        va_list ap;

        if (!e)
                return -EIO;
        if (!e->code)
                e->code = EIO;

        va_start(ap, fmt);
        (void)vsnprintf(prefix, sizeof(prefix), fmt, ap);
        va_end(ap);

        /* Truncation is acceptable: the message stays a readable prefix of the whole. */
        memcpy(old, e->message, sizeof(old));
        size_t n = strnlen(prefix, sizeof(prefix) - 1);
        memcpy(e->message, prefix, n);
        (void)strncpy(e->message + n, old, sizeof(e->message) - n - 1);
        e->message[sizeof(e->message) - 1] = 0;
        return -e->code;
}
