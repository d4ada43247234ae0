/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"

/*
 * Functions return 0 (or a count) on success and a negative errno on failure. Where a human needs to
 * know more than the errno (which file, which line, which address), they also take a DfuError that
 * collects the message; the daemon hands it to sd_bus_error_setf(), the client prints it.
 */
typedef struct DfuError {
        int code;          /* positive errno; 0 while unset */
        char message[512]; /* complete sentence, no trailing newline */
} DfuError;

#define DFU_ERROR_INIT \
        {}

/* Records the first error only: the innermost failure is the most precise one. Returns -abs(code). */
int dfu_error_set(DfuError *e, int code, const char *fmt, ...) _printf_(3, 4);

/* Prefixes the message with context ("foo.hex: "), keeping the code. Returns -code. */
int dfu_error_prefix(DfuError *e, const char *fmt, ...) _printf_(2, 3);

static inline const char *dfu_error_message(const DfuError *e) {
        return e && e->code ? e->message : "unknown error";
}
