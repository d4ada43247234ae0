/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* What a client may do; each role includes the ones below it. */
typedef enum WebRole {
        ROLE_NONE,
        ROLE_VIEWER,   /* GET */
        ROLE_OPERATOR, /* jobs: submit, cancel */
        ROLE_ADMIN,    /* rules and the rest */
} WebRole;

typedef struct Token {
        char *name;
        WebRole role;
        unsigned char sha256[32];
} Token;

typedef struct Tokens {
        Token *tokens;
        size_t n;
} Tokens;

const char *role_to_string(WebRole r);
WebRole role_from_string(const char *s);

/* Reads "NAME ROLE SHA256-HEX" lines ('#' comments, blank lines). A missing file is no tokens; a
 * file that others may read is refused (-EPERM), as is a malformed line (-EINVAL, logged). */
int tokens_load(const char *path, Tokens **ret);
void tokens_free(Tokens *t);
/* The token whose secret this is, or NULL. Compares every hash in constant time. */
const Token *tokens_find(const Tokens *t, const char *secret);
/* The secret a request presents: "Authorization: Bearer SECRET", or, for a GET without that header,
 * the access_token= query argument (EventSource cannot send headers). NULL: none, or an Authorization
 * header of another scheme, which the caller must treat as a wrong token. */
const char *auth_request_secret(const char *authorization, const char *method, const char *access_token);
