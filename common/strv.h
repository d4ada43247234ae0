/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

/* NULL-terminated string arrays, as in systemd's strv.h. A NULL list is an empty one. */

char **strv_free(char **l);
size_t strv_length(char *const *l);
int strv_extend(char ***l, const char *s);
bool strv_contains(char *const *l, const char *s);
char **strv_copy(char *const *l);
char *strv_join(char *const *l, const char *sep);
static inline void strv_freep(char ***l) {
        strv_free(*l);
}
#define _cleanup_strv_free_ _cleanup_(strv_freep)
