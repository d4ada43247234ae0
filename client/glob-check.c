/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "glob-check.h"
#include "macro.h"

static bool class_name_is_valid(const char *name, size_t len) {
        static const char *const classes[] = {"alnum", "alpha", "blank", "cntrl", "digit", "graph",
                                              "lower", "print", "punct", "space", "upper", "xdigit"};

        for (size_t i = 0; i < ELEMENTSOF(classes); i++)
                if (strlen(classes[i]) == len && strncmp(classes[i], name, len) == 0)
                        return true;
        return false;
}

/* p points just after the '[' that opens a bracket expression; returns the ']' that closes it, or
 * NULL with *ret_why set. */
static const char *bracket_end(const char *p, const char **ret_why) {
        if (*p == '!' || *p == '^')
                p++;
        if (*p == ']') /* first, it is a member */
                p++;
        for (; *p; p++) {
                if (*p == ']')
                        return p;
                if (*p == '\\' && p[1]) {
                        p++;
                        continue;
                }
                if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
                        char delim = p[1];
                        const char *name = p + 2, *end = name;

                        while (*end && !(end[0] == delim && end[1] == ']'))
                                end++;
                        if (!*end) {
                                *ret_why = "a \"[:\", \"[.\" or \"[=\" inside brackets is never closed";
                                return NULL;
                        }
                        if (delim == ':' && !class_name_is_valid(name, end - name)) {
                                *ret_why = "unknown character class (expected [:alpha:], [:digit:], ...)";
                                return NULL;
                        }
                        p = end + 1;
                }
        }
        *ret_why = "'[' opens a bracket expression that is never closed with ']'";
        return NULL;
}

int glob_pattern_check(const char *pattern, const char **ret_why) {
        for (const char *p = pattern; *p; p++) {
                if (*p == '\\') {
                        if (!p[1]) {
                                *ret_why = "a trailing backslash escapes nothing";
                                return -EINVAL;
                        }
                        p++;
                } else if (*p == '[') {
                        p = bracket_end(p + 1, ret_why);
                        if (!p)
                                return -EINVAL;
                }
        }
        return 0;
}
