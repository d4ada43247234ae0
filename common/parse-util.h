/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/*
 * A whole unsigned number from a command line, a D-Bus object path or a configuration value, in
 * base (10, 16, or 0 for C's 0x and 0 prefixes). strtoull() alone takes "-1" as a huge number and
 * stops at junk; this does neither. Returns 0, -EINVAL for an empty string, a leading '-', no digits
 * or anything after them, or -ERANGE for a value above max.
 */
int parse_uint64(const char *s, int base, uint64_t max, uint64_t *ret);

/* A configuration boolean: yes/true/on/1 or no/false/off/0 (case-insensitive words). -EINVAL else. */
int parse_boolean(const char *v, bool *ret);
