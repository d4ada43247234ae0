/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/image.h"
#include "strv.h"
#include "trust.h"

typedef struct TrustListed {
        char sha256[65];
        const char *file; /* in TrustStore.files */
} TrustListed;

typedef struct TrustKey {
        EVP_PKEY *pkey;
        char fingerprint[72];
        const char *file; /* in TrustStore.files */
} TrustKey;

struct TrustStore {
        TrustMode mode;
        char *dir;
        char **files; /* the file names read, for messages and sources */
        TrustListed *listed;
        size_t n_listed;
        TrustKey *keys;
        size_t n_keys;
};

static const char *const trust_mode_table[_TRUST_MODE_MAX] = {
        [TRUST_OFF] = "off",
        [TRUST_ALLOWLIST] = "allowlist",
        [TRUST_SIGNED] = "signed",
};

const char *trust_mode_to_string(TrustMode m) {
        return m >= 0 && m < _TRUST_MODE_MAX ? trust_mode_table[m] : NULL;
}

TrustMode trust_mode_from_string(const char *s) {
        for (int i = 0; s && i < _TRUST_MODE_MAX; i++)
                if (streq(s, trust_mode_table[i]))
                        return (TrustMode)i;
        return _TRUST_MODE_INVALID;
}

TrustStore *trust_store_free(TrustStore *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_keys; i++)
                EVP_PKEY_free(s->keys[i].pkey);
        free(s->keys);
        free(s->listed);
        strv_free(s->files);
        free(s->dir);
        return mfree(s);
}

static bool has_suffix(const char *s, const char *suffix) {
        size_t n = strlen(s), k = strlen(suffix);
        return n > k && streq(s + n - k, suffix);
}

static int name_compare(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of dir's regular files ending in suffix, sorted so that the first match is reproducible. A
 * missing directory holds nothing. */
static int list_dir(const char *dir, const char *suffix, char ***ret, DfuError *error) {
        _cleanup_strv_free_ char **names = NULL;
        DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0;
        int r = 0;

        if (!d) {
                if (errno == ENOENT)
                        return 0;
                return dfu_error_set(error, errno, "Failed to open %s: %m", dir);
        }
        while ((errno = 0, de = readdir(d))) {
                if (de->d_name[0] == '.' || !has_suffix(de->d_name, suffix))
                        continue;
                if (++n > TRUST_DIR_FILES_MAX) {
                        r = dfu_error_set(error, E2BIG, "%s holds more than %d %s files.", dir,
                                          TRUST_DIR_FILES_MAX, suffix);
                        break;
                }
                r = strv_extend(&names, de->d_name);
                if (r < 0) {
                        r = dfu_error_set(error, ENOMEM, "Out of memory.");
                        break;
                }
        }
        if (r >= 0 && errno)
                r = dfu_error_set(error, errno, "Failed to read %s: %m", dir);
        closedir(d);
        if (r < 0)
                return r;
        if (names)
                qsort(names, strv_length(names), sizeof(char *), name_compare);
        *ret = TAKE_PTR(names);
        return 0;
}

static int read_capped(const char *dir, const char *name, size_t cap, char **ret, size_t *ret_size,
                       DfuError *error) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        size_t size = 0;

        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return dfu_error_set(error, ENOMEM, "Out of memory.");
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return dfu_error_set(error, errno, "Failed to open %s: %m", path);
        if (fstat(fd, &st) < 0)
                return dfu_error_set(error, errno, "Failed to stat %s: %m", path);
        if (!S_ISREG(st.st_mode))
                return dfu_error_set(error, EBADMSG, "%s is not a regular file.", path);
        if ((uint64_t)st.st_size > cap)
                return dfu_error_set(error, EFBIG, "%s is larger than %zu bytes.", path, cap);
        buf = malloc(cap + 1);
        if (!buf)
                return dfu_error_set(error, ENOMEM, "Out of memory.");
        /* The file may grow between fstat() and read(): the cap holds whatever it does. */
        for (;;) {
                ssize_t k = read(fd, buf + size, cap + 1 - size);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return dfu_error_set(error, errno, "Failed to read %s: %m", path);
                if (k == 0)
                        break;
                size += (size_t)k;
                if (size > cap)
                        return dfu_error_set(error, EFBIG, "%s is larger than %zu bytes.", path, cap);
        }
        buf[size] = 0;
        *ret = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

static bool is_hex_digest(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!strchr("0123456789abcdefABCDEF", s[i]) || !s[i])
                        return false;
        return true;
}

/* sha256sum output: "<64 hex>  <name>" or "<64 hex> *<name>" per line; blank lines and '#' comments are
 * allowed, anything else makes the file (and the check) fail. */
static int parse_list(TrustStore *s, const char *file, char *text, size_t size, DfuError *error) {
        unsigned line = 0;

        if (memchr(text, 0, size))
                return dfu_error_set(error, EBADMSG, "%s/%s: not a text file.", s->dir, file);
        for (char *p = text, *next; p && *p; p = next) {
                size_t len;

                next = strchr(p, '\n');
                if (next)
                        *next++ = 0;
                line++;
                len = strlen(p);
                if (len > 0 && p[len - 1] == '\r')
                        p[--len] = 0;
                if (len == 0 || p[0] == '#')
                        continue;
                if (len < 66 || !is_hex_digest(p, 64) || p[64] != ' ' || (p[65] != ' ' && p[65] != '*'))
                        return dfu_error_set(error, EBADMSG,
                                             "%s/%s, line %u: not a sha256sum line (\"<64 hex digits>  "
                                             "<file name>\").",
                                             s->dir, file, line);
                TrustListed *n = realloc(s->listed, sizeof(TrustListed) * (s->n_listed + 1));
                if (!n)
                        return dfu_error_set(error, ENOMEM, "Out of memory.");
                s->listed = n;
                for (size_t i = 0; i < 64; i++)
                        n[s->n_listed].sha256[i] =
                                (char)(p[i] >= 'A' && p[i] <= 'F' ? p[i] - 'A' + 'a' : p[i]);
                n[s->n_listed].sha256[64] = 0;
                n[s->n_listed].file = file;
                s->n_listed++;
        }
        return 0;
}

static int pkey_fingerprint(EVP_PKEY *pkey, char ret[72]) {
        uint8_t raw[64];
        size_t len = sizeof(raw);
        char hex[65];
        int r;

        if (EVP_PKEY_get_raw_public_key(pkey, raw, &len) != 1)
                return -EIO;
        r = sha256_hex(raw, len, hex);
        if (r < 0)
                return r;
        (void)snprintf(ret, 72, "SHA256:%s", hex);
        return 0;
}

/* A PEM public key, or with private set a private key too; Ed25519 only. */
static int parse_key(const char *path, const char *text, size_t size, bool private, EVP_PKEY **ret,
                     DfuError *error) {
        BIO *bio = BIO_new_mem_buf(text, (int)size);
        EVP_PKEY *pkey;

        if (!bio)
                return dfu_error_set(error, ENOMEM, "Out of memory.");
        pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
        if (!pkey && private) {
                (void)BIO_reset(bio);
                pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
        }
        BIO_free(bio);
        if (!pkey)
                return dfu_error_set(error, EBADMSG, "%s: not a PEM %skey.", path, private ? "" : "public ");
        if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
                EVP_PKEY_free(pkey);
                return dfu_error_set(error, EBADMSG, "%s: not an Ed25519 key.", path);
        }
        *ret = pkey;
        return 0;
}

static int add_key(TrustStore *s, const char *file, const char *text, size_t size, DfuError *error) {
        _cleanup_free_ char *path = NULL;
        EVP_PKEY *pkey = NULL;
        TrustKey *n;
        int r;

        if (asprintf(&path, "%s/%s", s->dir, file) < 0)
                return dfu_error_set(error, ENOMEM, "Out of memory.");
        r = parse_key(path, text, size, false, &pkey, error);
        if (r < 0)
                return r;
        n = realloc(s->keys, sizeof(TrustKey) * (s->n_keys + 1));
        if (!n) {
                EVP_PKEY_free(pkey);
                return dfu_error_set(error, ENOMEM, "Out of memory.");
        }
        s->keys = n;
        n[s->n_keys] = (TrustKey){.pkey = pkey, .file = file};
        s->n_keys++;
        if (pkey_fingerprint(pkey, n[s->n_keys - 1].fingerprint) < 0)
                return dfu_error_set(error, EBADMSG, "%s: cannot read the public key.", path);
        return 0;
}

int trust_store_load(TrustMode mode, const char *approved_dir, const char *key_dir, TrustStore **ret,
                     DfuError *error) {
        _cleanup_(trust_store_freep) TrustStore *s = calloc(1, sizeof(TrustStore));
        int r;

        if (!s)
                return dfu_error_set(error, ENOMEM, "Out of memory.");
        if (mode < 0 || mode >= _TRUST_MODE_MAX)
                return dfu_error_set(error, EINVAL, "Unknown trust mode.");
        s->mode = mode;
        if (mode == TRUST_OFF) {
                *ret = TAKE_PTR(s);
                return 0;
        }
        s->dir = strdup(mode == TRUST_ALLOWLIST ? approved_dir : key_dir);
        if (!s->dir)
                return dfu_error_set(error, ENOMEM, "Out of memory.");
        r = list_dir(s->dir, mode == TRUST_ALLOWLIST ? ".sha256" : ".pem", &s->files, error);
        if (r < 0)
                return r;
        for (char **f = s->files; f && *f; f++) {
                _cleanup_free_ char *text = NULL;
                size_t size;

                r = read_capped(s->dir, *f,
                                mode == TRUST_ALLOWLIST ? TRUST_LIST_FILE_MAX : TRUST_KEY_FILE_MAX, &text,
                                &size, error);
                if (r < 0)
                        return r;
                r = mode == TRUST_ALLOWLIST ? parse_list(s, *f, text, size, error)
                                            : add_key(s, *f, text, size, error);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

static int check_listed(const TrustStore *s, const char *name, const char *sha256, char **ret_source,
                        DfuError *error) {
        for (size_t i = 0; i < s->n_listed; i++)
                if (streq(s->listed[i].sha256, sha256)) {
                        if (ret_source && asprintf(ret_source, "allowlist %s", s->listed[i].file) < 0)
                                return dfu_error_set(error, ENOMEM, "Out of memory.");
                        return 0;
                }
        return dfu_error_set(error, EMEDIUMTYPE,
                             "%s is not approved: its SHA-256 %s is not listed in any *.sha256 file of %s.",
                             name, sha256, s->dir);
}

static int verify_one(EVP_PKEY *pkey, const uint8_t *data, size_t size, const uint8_t *sig, size_t sig_size,
                      bool *ret) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        int r;

        if (!ctx)
                return -ENOMEM;
        /* Ed25519 hashes internally: no digest, one-shot verify over the exact bytes. */
        r = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey);
        if (r == 1)
                r = EVP_DigestVerify(ctx, sig, sig_size, data ?: (const uint8_t *)"", size);
        EVP_MD_CTX_free(ctx);
        *ret = r == 1;
        return 0;
}

static int check_signed(const TrustStore *s, const char *name, const uint8_t *data, size_t size,
                        const uint8_t *sig, size_t sig_size, char **ret_source, DfuError *error) {
        if (!sig || sig_size == 0)
                return dfu_error_set(error, EMEDIUMTYPE,
                                     "%s has no signature; only images signed with a key of %s are "
                                     "accepted.",
                                     name, s->dir);
        if (sig_size != TRUST_ED25519_SIGLEN)
                return dfu_error_set(error, EMEDIUMTYPE,
                                     "%s: bad signature: %zu bytes, an Ed25519 signature has %d.", name,
                                     sig_size, TRUST_ED25519_SIGLEN);
        if (s->n_keys == 0)
                return dfu_error_set(error, EMEDIUMTYPE,
                                     "%s: signature by an unknown key: %s holds no *.pem public key.", name,
                                     s->dir);
        for (size_t i = 0; i < s->n_keys; i++) {
                bool ok;
                if (verify_one(s->keys[i].pkey, data, size, sig, sig_size, &ok) < 0)
                        return dfu_error_set(error, ENOMEM, "Out of memory.");
                if (!ok)
                        continue;
                if (ret_source &&
                    asprintf(ret_source, "key %s (%s)", s->keys[i].fingerprint, s->keys[i].file) < 0)
                        return dfu_error_set(error, ENOMEM, "Out of memory.");
                return 0;
        }
        return dfu_error_set(
                error, EMEDIUMTYPE,
                "%s: bad signature: it verifies with none of the %zu trusted key(s) in %s (signed by an "
                "unknown key, or the image changed after it was signed).",
                name, s->n_keys, s->dir);
}

int trust_store_check(const TrustStore *s, const char *name, const uint8_t *data, size_t size,
                      const char *sha256, const uint8_t *sig, size_t sig_size, char **ret_source,
                      DfuError *error) {
        if (ret_source)
                *ret_source = NULL;
        switch (s->mode) {
        case TRUST_ALLOWLIST:
                return check_listed(s, name, sha256, ret_source, error);
        case TRUST_SIGNED:
                return check_signed(s, name, data, size, sig, sig_size, ret_source, error);
        default:
                return 0;
        }
}

static bool key_trusted(const TrustStore *s, const char *fingerprint, size_t len) {
        for (size_t i = 0; i < s->n_keys; i++)
                if (strlen(s->keys[i].fingerprint) == len &&
                    strncmp(s->keys[i].fingerprint, fingerprint, len) == 0)
                        return true;
        return false;
}

int trust_store_recheck(const TrustStore *s, char *const *hashes, const char *source, DfuError *error) {
        size_t i = 0, n_keys = 0;

        switch (s->mode) {
        case TRUST_ALLOWLIST:
                for (char *const *h = hashes; h && *h; h++, i++) {
                        char name[32];
                        (void)snprintf(name, sizeof(name), "image %zu", i + 1);
                        int r = check_listed(s, name, *h, NULL, error);
                        if (r < 0)
                                return r;
                }
                return 0;
        case TRUST_SIGNED:
                /* The signature was verified with these keys: as long as they are trusted, so is it. */
                for (const char *p = source; p && (p = strstr(p, "SHA256:")); p += 7 + 64) {
                        if (strlen(p) < 7 + 64 || !key_trusted(s, p, 7 + 64))
                                return dfu_error_set(
                                        error, EMEDIUMTYPE,
                                        "The key that signed its images (%.71s) is no longer in %s.", p,
                                        s->dir);
                        n_keys++;
                }
                if (n_keys == 0)
                        return dfu_error_set(
                                error, EMEDIUMTYPE,
                                "Its images were not checked for signatures when it was added; add "
                                "it again with signatures.");
                return 0;
        default:
                return 0;
        }
}

int trust_key_file_fingerprint(const char *path, char **ret, DfuError *error) {
        _cleanup_free_ char *text = NULL, *dir = NULL;
        const char *slash = strrchr(path, '/');
        EVP_PKEY *pkey = NULL;
        char fp[72];
        size_t size;
        int r;

        dir = slash ? strndup(path, (size_t)(slash - path) ?: 1) : strdup(".");
        if (!dir)
                return dfu_error_set(error, ENOMEM, "Out of memory.");
        r = read_capped(dir, slash ? slash + 1 : path, TRUST_KEY_FILE_MAX, &text, &size, error);
        if (r >= 0)
                r = parse_key(path, text, size, true, &pkey, error);
        if (r < 0)
                return r;
        r = pkey_fingerprint(pkey, fp);
        EVP_PKEY_free(pkey);
        if (r < 0)
                return dfu_error_set(error, -r, "%s: cannot read the public key.", path);
        *ret = strdup(fp);
        return *ret ? 0 : dfu_error_set(error, ENOMEM, "Out of memory.");
}
