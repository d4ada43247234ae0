/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "auth.h"
#include "log.h"
#include "macro.h"

static const char *const roles[] = {
        [ROLE_VIEWER] = "viewer",
        [ROLE_OPERATOR] = "operator",
        [ROLE_ADMIN] = "admin",
};

const char *role_to_string(WebRole r) {
        return r > ROLE_NONE && r < (WebRole)ELEMENTSOF(roles) ? roles[r] : "none";
}

WebRole role_from_string(const char *s) {
        for (size_t i = ROLE_VIEWER; i < ELEMENTSOF(roles); i++)
                if (streq(roles[i], s))
                        return (WebRole)i;
        return ROLE_NONE;
}

void tokens_free(Tokens *t) {
        if (!t)
                return;
        for (size_t i = 0; i < t->n; i++)
                free(t->tokens[i].name);
        free(t->tokens);
        free(t);
}

static int unhex(char c) {
        return c >= '0' && c <= '9'   ? c - '0'
               : c >= 'a' && c <= 'f' ? c - 'a' + 10
               : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                      : -1;
}

static int parse_line(char *line, Token *ret) {
        char *save = NULL, *name, *role, *hash, *extra;

        name = strtok_r(line, " \t", &save);
        role = strtok_r(NULL, " \t", &save);
        hash = strtok_r(NULL, " \t", &save);
        extra = strtok_r(NULL, " \t", &save);
        if (!name || !role || !hash || extra || strlen(hash) != 64)
                return -EINVAL;
        ret->role = role_from_string(role);
        if (ret->role == ROLE_NONE)
                return -EINVAL;
        for (size_t i = 0; i < 32; i++) {
                int hi = unhex(hash[2 * i]), lo = unhex(hash[2 * i + 1]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                ret->sha256[i] = (unsigned char)(hi << 4 | lo);
        }
        ret->name = strdup(name);
        return ret->name ? 0 : -ENOMEM;
}

int tokens_load(const char *path, Tokens **ret) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        unsigned lineno = 0;
        struct stat st;
        Tokens *t;

        t = calloc(1, sizeof(*t));
        if (!t)
                return log_oom();
        f = fopen(path, "re");
        if (!f) {
                if (errno == ENOENT) {
                        log_info("No tokens file %s: only loopback clients may read.", path);
                        *ret = t;
                        return 0;
                }
                tokens_free(t);
                return log_error_errno(errno, "Failed to open %s: %m", path);
        }
        /* Hashes are no secret in themselves, but a readable file invites guessing offline. */
        if (fstat(fileno(f), &st) < 0 || (st.st_mode & 0007)) {
                tokens_free(t);
                return log_error_errno(EPERM, "%s may be read by others; chmod o-rwx it first.", path);
        }
        while (getline(&line, &size, f) >= 0) {
                char *p = line + strspn(line, " \t");
                Token tok = {};
                Token *n;
                int r;

                lineno++;
                p[strcspn(p, "\r\n")] = '\0';
                if (!*p || *p == '#')
                        continue;
                r = parse_line(p, &tok);
                if (r < 0) {
                        tokens_free(t);
                        if (r == -ENOMEM)
                                return log_oom();
                        return log_error_errno(EINVAL,
                                               "%s:%u: expected \"NAME viewer|operator|admin SHA256-HEX\".",
                                               path, lineno);
                }
                n = realloc(t->tokens, sizeof(Token) * (t->n + 1));
                if (!n) {
                        free(tok.name);
                        tokens_free(t);
                        return log_oom();
                }
                t->tokens = n;
                t->tokens[t->n++] = tok;
        }
        *ret = t;
        return 0;
}

const Token *tokens_find(const Tokens *t, const char *secret) {
        unsigned char digest[32];
        unsigned len = 0;
        const Token *found = NULL;

        if (!t || !secret || !*secret)
                return NULL;
        if (EVP_Digest(secret, strlen(secret), digest, &len, EVP_sha256(), NULL) != 1 || len != 32)
                return NULL;
        /* No early exit: how long this takes says nothing about which token came close. */
        for (size_t i = 0; i < t->n; i++)
                if (CRYPTO_memcmp(digest, t->tokens[i].sha256, 32) == 0)
                        found = &t->tokens[i];
        return found;
}

const char *auth_request_secret(const char *authorization, const char *method, const char *access_token) {
        if (authorization)
                return strncasecmp(authorization, "Bearer ", 7) == 0
                               ? authorization + 7 + strspn(authorization + 7, " ")
                               : NULL;
        return method && streq(method, "GET") ? access_token : NULL;
}
