/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "strv.h"

char **strv_free(char **l) {
        for (char **s = l; s && *s; s++)
                free(*s);
        free(l);
        return NULL;
}

size_t strv_length(char *const *l) {
        size_t n = 0;
        while (l && l[n])
                n++;
        return n;
}

int strv_extend(char ***l, const char *s) {
        size_t n = strv_length(*l);
        char *c = strdup(s), **nl;

        if (!c)
                return -ENOMEM;
        nl = realloc(*l, sizeof(char *) * (n + 2));
        if (!nl) {
                free(c);
                return -ENOMEM;
        }
        nl[n] = c;
        nl[n + 1] = NULL;
        *l = nl;
        return 0;
}

bool strv_contains(char *const *l, const char *s) {
        for (; l && *l; l++)
                if (streq(*l, s))
                        return true;
        return false;
}

char **strv_copy(char *const *l) {
        char **c = calloc(1, sizeof(char *));
        for (; c && l && *l; l++)
                if (strv_extend(&c, *l) < 0)
                        return strv_free(c);
        return c;
}

char *strv_join(char *const *l, const char *sep) {
        size_t len = 1, k = strlen(sep);
        for (char *const *s = l; s && *s; s++)
                len += strlen(*s) + k;
        char *r = malloc(len), *p = r;
        if (!r)
                return NULL;
        *p = 0;
        for (char *const *s = l; s && *s; s++) {
                if (s != l)
                        p = stpcpy(p, sep);
                p = stpcpy(p, *s);
        }
        return r;
}
