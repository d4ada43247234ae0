/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Checks that a pattern is well-formed fnmatch(3) syntax (flags 0, as dfusd matches rules): every '['
 * that opens a bracket expression is closed by ']', a character class inside one is closed and named
 * as POSIX names them, and a backslash escapes something. Returns 0, or -EINVAL with *ret_why set to
 * what is wrong (a static string).
 */
int glob_pattern_check(const char *pattern, const char **ret_why);
