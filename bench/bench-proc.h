/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What a benchmark reads of a process it started, from /proc. */

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* VmHWM: the peak resident set, in KiB (0 if unreadable). */
static inline unsigned long peak_rss_kib(pid_t pid) {
        g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)pid);
        g_autofree char *text = NULL;
        const char *p;

        if (!g_file_get_contents(path, &text, NULL, NULL) || !(p = strstr(text, "VmHWM:")))
                return 0;
        return strtoul(p + 6, NULL, 10);
}

/* utime + stime in clock ticks (sysconf(_SC_CLK_TCK) a second; 0 if unreadable). */
static inline unsigned long long cpu_ticks(pid_t pid) {
        g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int)pid);
        g_autofree char *text = NULL;
        unsigned long utime = 0, stime = 0;
        const char *p;

        /* fields 14 and 15; the command name before them is in parentheses and may hold spaces */
        if (!g_file_get_contents(path, &text, NULL, NULL) || !(p = strrchr(text, ')')) ||
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
                return 0;
        return (unsigned long long)utime + stime;
}
