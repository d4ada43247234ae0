/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/*
 * A list sequence's file: one value per line. It comes from whoever adds the sequence, so every size
 * is bounded: the file, each line and the number of values.
 */
#define SEQUENCE_LIST_FILE_MAX   (UINT64_C(16) * 1024 * 1024)
#define SEQUENCE_LIST_LINE_MAX   512 /* SEQUENCE_VALUE_MAX: a value, after trimming */
#define SEQUENCE_LIST_VALUES_MAX 1000000u

/* One value per line; blank lines and lines starting with '#' are skipped; surrounding blanks are
 * trimmed. Linear in size. A bad list is -EINVAL with "line N: ..." in error (or "no values"). */
int sequence_list_parse(const char *data, size_t size, char ***ret, DfuError *error);
