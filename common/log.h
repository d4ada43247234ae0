/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

/*
 * Logging to stderr with a syslog priority prefix ("<3>"), which journald understands when the
 * daemon runs as a unit. The helpers taking an error set errno from it first, so "%m" prints it,
 * and return it negated, systemd style: return log_error_errno(r, "Failed to ...: %m");
 */

enum {
        LOG_LEVEL_ERR = 3,
        LOG_LEVEL_WARNING = 4,
        LOG_LEVEL_NOTICE = 5,
        LOG_LEVEL_INFO = 6,
        LOG_LEVEL_DEBUG = 7,
};

/*
 * Copies src into dst (at most dst_size bytes with the NUL) with control characters escaped: "\n",
 * "\r", "\t", other C0 bytes and DEL as "\x1b"; bytes from 0x80 up (UTF-8) are kept. Stops before an
 * escape that would not fit whole. Returns the length written.
 */
size_t log_escape(const char *src, char *dst, size_t dst_size);

void log_set_max_level(int level);
int log_get_max_level(void);
int log_internal(int level, int error, const char *fmt, ...) _printf_(3, 4);

#define log_debug(...)   log_internal(LOG_LEVEL_DEBUG, 0, __VA_ARGS__)
#define log_info(...)    log_internal(LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define log_notice(...)  log_internal(LOG_LEVEL_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_internal(LOG_LEVEL_WARNING, 0, __VA_ARGS__)
#define log_error(...)   log_internal(LOG_LEVEL_ERR, 0, __VA_ARGS__)

#define log_debug_errno(e, ...)   log_internal(LOG_LEVEL_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...)    log_internal(LOG_LEVEL_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_internal(LOG_LEVEL_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...)   log_internal(LOG_LEVEL_ERR, (e), __VA_ARGS__)

#define log_oom() log_internal(LOG_LEVEL_ERR, ENOMEM, "Out of memory.")
