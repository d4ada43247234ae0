/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "macro.h"

/*
 * Which images a line accepts. "allowlist": the image's SHA-256 is listed in a `*.sha256` file (the
 * `sha256sum` output format) of the approved directory. "signed": the image carries a detached Ed25519
 * signature over its exact bytes, as `openssl pkeyutl -sign -rawin` makes it, that verifies with one of
 * the PEM public keys (`*.pem`) of the key directory. The directories are read afresh for every set of
 * images, so adding or removing a file takes effect without a restart; every file is size-capped and a
 * malformed one fails the check (closed) with a message naming it.
 *
 * A rejection is -EMEDIUMTYPE with the reason in the error: "not listed", "no signature", "bad
 * signature". Ed25519 signatures carry no key identifier, so a signature by a key that is not trusted
 * and a trusted signature over bytes that changed afterwards cannot be told apart: both are reported as
 * a signature that verifies with none of the trusted keys.
 */

typedef enum TrustMode {
        TRUST_OFF,
        TRUST_ALLOWLIST,
        TRUST_SIGNED,
        _TRUST_MODE_MAX,
        _TRUST_MODE_INVALID = -EINVAL,
} TrustMode;

#define TRUST_APPROVED_DIR_DEFAULT "/etc/dfusd/approved.d"
#define TRUST_KEY_DIR_DEFAULT      "/etc/dfusd/keys.d"

/* Bounds on what is read: a signature (Ed25519: 64 bytes), one key file, one allow-list file, and the
 * files of a directory. */
#define TRUST_SIGNATURE_MAX  1024
#define TRUST_KEY_FILE_MAX   (16 * 1024)
#define TRUST_LIST_FILE_MAX  (4 * 1024 * 1024)
#define TRUST_DIR_FILES_MAX  256
#define TRUST_ED25519_SIGLEN 64

const char *trust_mode_to_string(TrustMode m);
TrustMode trust_mode_from_string(const char *s);

typedef struct TrustStore TrustStore;

/* Loads the allow-list or the keys the mode needs (nothing for TRUST_OFF). */
int trust_store_load(TrustMode mode, const char *approved_dir, const char *key_dir, TrustStore **ret,
                     DfuError *error);
TrustStore *trust_store_free(TrustStore *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(TrustStore *, trust_store_free);

/* Checks one image (name is for messages, sha256 its lowercase hex digest; sig may be NULL). On success
 * *ret_source (may be NULL) says what accepted it: "key SHA256:<hex> (name.pem)", "allowlist
 * name.sha256", or NULL when the mode is off. */
int trust_store_check(const TrustStore *s, const char *name, const uint8_t *data, size_t size,
                      const char *sha256, const uint8_t *sig, size_t sig_size, char **ret_source,
                      DfuError *error);

/* Whether images accepted earlier are still trusted now (a rule's, as the directories or the mode
 * changed): allowlist, every hash is still listed; signed, every key named in source ("key SHA256:...",
 * as trust_store_check() wrote it) is still a trusted key. -EMEDIUMTYPE with the reason. */
int trust_store_recheck(const TrustStore *s, char *const *hashes, const char *source, DfuError *error);

/* "SHA256:<hex>" of the raw 32-byte Ed25519 public key in a PEM file (public or private key). */
int trust_key_file_fingerprint(const char *path, char **ret, DfuError *error);
