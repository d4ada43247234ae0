/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dfusctl.h"
#include "image/image.h"
#include "trust.h"

/*
 * `dfusctl keygen` and `dfusctl sign`: thin conveniences over the format dfusd checks, so that
 *   openssl genpkey -algorithm ed25519 -out KEY.pem
 *   openssl pkeyutl -sign -rawin -inkey KEY.pem -in IMAGE -out IMAGE.sig
 * stay the reference: the same keys, the same raw 64-byte signatures over the image's exact bytes.
 */

void verb_keygen_help(void) {
        printf("Usage: dfusctl keygen NAME\n\n"
               "Makes an Ed25519 key pair for signing images: NAME.pem (the private key, mode 0600) and\n"
               "NAME.pub.pem (the public key, for KeyDirectory= of dfusd.conf, /etc/dfusd/keys.d by\n"
               "default). Existing files are never overwritten. Prints the key's fingerprint.\n");
}

void verb_sign_help(void) {
        printf("Usage: dfusctl sign --key KEY.pem IMAGE...\n\n"
               "Writes IMAGE.sig beside each image: a detached Ed25519 signature over its exact bytes, as\n"
               "openssl pkeyutl -sign -rawin makes it. dfusctl flash and rule add send IMAGE.sig with\n"
               "IMAGE by themselves.\n");
}

static int write_pem(const char *path, EVP_PKEY *pkey, bool private) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, private ? 0600 : 0644);
        FILE *f;
        int ok;

        if (fd < 0) {
                fprintf(stderr, "dfusctl keygen: Failed to create %s: %s\n", path, strerror(errno));
                return EXIT_IO;
        }
        f = fdopen(fd, "w");
        if (!f) {
                close(fd);
                return EXIT_IO;
        }
        ok = private ? PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) : PEM_write_PUBKEY(f, pkey);
        if (fclose(f) != 0 || ok != 1) {
                fprintf(stderr, "dfusctl keygen: Failed to write %s.\n", path);
                (void)unlink(path);
                return EXIT_IO;
        }
        return EXIT_ACCEPTED;
}

int verb_keygen(int argc, char *argv[], const DfusctlContext *ctx) {
        _cleanup_free_ char *priv = NULL, *pub = NULL, *fp = NULL;
        DfuError error = DFU_ERROR_INIT;
        EVP_PKEY *pkey;
        int r;

        (void)ctx;
        if (argc != 2 || argv[1][0] == '-') {
                fprintf(stderr, "dfusctl keygen: expected one NAME (see dfusctl keygen --help).\n");
                return EXIT_USAGE;
        }
        if (asprintf(&priv, "%s.pem", argv[1]) < 0 || asprintf(&pub, "%s.pub.pem", argv[1]) < 0)
                return EXIT_IO;
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        if (!pkey) {
                fprintf(stderr, "dfusctl keygen: Failed to generate an Ed25519 key.\n");
                return EXIT_IO;
        }
        r = write_pem(priv, pkey, true);
        if (r == EXIT_ACCEPTED) {
                r = write_pem(pub, pkey, false);
                if (r != EXIT_ACCEPTED)
                        (void)unlink(priv);
        }
        EVP_PKEY_free(pkey);
        if (r != EXIT_ACCEPTED)
                return r;
        if (trust_key_file_fingerprint(pub, &fp, &error) < 0) {
                fprintf(stderr, "dfusctl keygen: %s\n", dfu_error_message(&error));
                return EXIT_IO;
        }
        printf("%s: private key, keep it secret\n%s: public key %s, for KeyDirectory=\n", priv, pub, fp);
        return EXIT_ACCEPTED;
}

static int load_private_key(const char *path, EVP_PKEY **ret) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        EVP_PKEY *pkey;

        if (!f) {
                fprintf(stderr, "dfusctl sign: Failed to open %s: %s\n", path, strerror(errno));
                return EXIT_IO;
        }
        pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        if (!pkey || EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
                EVP_PKEY_free(pkey);
                fprintf(stderr, "dfusctl sign: %s is not a PEM Ed25519 private key.\n", path);
                return EXIT_IO;
        }
        *ret = pkey;
        return EXIT_ACCEPTED;
}

static int sign_one(EVP_PKEY *pkey, const char *image) {
        _cleanup_free_ uint8_t *data = NULL;
        _cleanup_free_ char *out = NULL;
        _cleanup_close_ int fd = -EBADF, ofd = -EBADF;
        DfuError error = DFU_ERROR_INIT;
        uint8_t sig[TRUST_ED25519_SIGLEN];
        size_t size, sig_len = sizeof(sig);
        EVP_MD_CTX *md;
        int ok;

        fd = open(image, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                fprintf(stderr, "dfusctl sign: Failed to open %s: %s\n", image, strerror(errno));
                return EXIT_IO;
        }
        if (read_fd_capped(fd, image, IMAGE_SIZE_CAP_DEFAULT, &data, &size, &error) < 0) {
                fprintf(stderr, "dfusctl sign: %s\n", dfu_error_message(&error));
                return EXIT_IO;
        }
        md = EVP_MD_CTX_new();
        ok = md && EVP_DigestSignInit(md, NULL, NULL, NULL, pkey) == 1 &&
             EVP_DigestSign(md, sig, &sig_len, data ?: (const uint8_t *)"", size) == 1;
        EVP_MD_CTX_free(md);
        if (!ok || sig_len != sizeof(sig)) {
                fprintf(stderr, "dfusctl sign: Failed to sign %s.\n", image);
                return EXIT_IO;
        }
        if (asprintf(&out, "%s.sig", image) < 0)
                return EXIT_IO;
        ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (ofd < 0 || write(ofd, sig, sig_len) != (ssize_t)sig_len) {
                fprintf(stderr, "dfusctl sign: Failed to write %s: %s\n", out, strerror(errno));
                return EXIT_IO;
        }
        printf("%s\n", out);
        return EXIT_ACCEPTED;
}

int verb_sign(int argc, char *argv[], const DfusctlContext *ctx) {
        static const struct option options[] = {{"key", required_argument, NULL, 'k'}, {}};
        const char *key = NULL;
        EVP_PKEY *pkey = NULL;
        int c, r;

        (void)ctx;
        optind = 0;
        while ((c = getopt_long(argc, argv, "k:", options, NULL)) >= 0) {
                if (c != 'k')
                        return EXIT_USAGE;
                key = optarg;
        }
        if (!key || optind >= argc) {
                fprintf(stderr, "dfusctl sign: expected --key KEY.pem and at least one image.\n");
                return EXIT_USAGE;
        }
        r = load_private_key(key, &pkey);
        for (int i = optind; r == EXIT_ACCEPTED && i < argc; i++)
                r = sign_one(pkey, argv[i]);
        EVP_PKEY_free(pkey);
        return r;
}
