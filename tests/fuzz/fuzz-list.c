/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sequence-list.h"
#include "strv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * A list sequence's file comes from whoever adds the sequence. The parser either refuses it with a
 * message naming a line (or saying there are no values), or hands back values that are what a value
 * must be: non-empty, trimmed, not a comment, no control character but tab, at most the line cap; and
 * no more of them than there are lines.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_strv_free_ char **l = NULL;
        DfuError error = DFU_ERROR_INIT;
        size_t lines = 1;
        int r;

        r = sequence_list_parse((const char *)data, size, &l, &error);
        if (r < 0) {
                if (r != -EINVAL && r != -ENOMEM)
                        abort();
                if (error.code == 0 || (strncmp(error.message, "line ", 5) != 0 &&
                                        strncmp(error.message, "no values", 9) != 0 &&
                                        strncmp(error.message, "larger than", 11) != 0 &&
                                        strncmp(error.message, "out of memory", 13) != 0))
                        abort();
                return 0;
        }
        for (size_t i = 0; i < size; i++)
                lines += data[i] == '\n';
        if (!l || strv_length(l) == 0 || strv_length(l) > lines || strv_length(l) > SEQUENCE_LIST_VALUES_MAX)
                abort();
        for (char **v = l; *v; v++) {
                size_t len = strlen(*v);
                if (len == 0 || len > SEQUENCE_LIST_LINE_MAX || (*v)[0] == '#' ||
                    isblank((unsigned char)(*v)[0]) || isblank((unsigned char)(*v)[len - 1]) ||
                    (*v)[len - 1] == '\r')
                        abort();
                for (size_t i = 0; i < len; i++)
                        if (iscntrl((unsigned char)(*v)[i]) && (*v)[i] != '\t')
                                abort();
                /* Every value is in the input as written. */
                if (!memmem(data, size, *v, len))
                        abort();
        }
        return 0;
}
