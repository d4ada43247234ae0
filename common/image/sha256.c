/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <openssl/evp.h>

#include "image-internal.h"

int sha256_hex(const uint8_t *buf, size_t len, char ret[65]) {
        static const char digits[] = "0123456789abcdef";
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned md_len = 0;

        if ((!buf && len > 0) || !ret)
                return -EINVAL;
        if (EVP_Digest(buf ?: (const uint8_t *)"", len, md, &md_len, EVP_sha256(), NULL) != 1 ||
            md_len != 32)
                return -EIO;

        for (unsigned i = 0; i < 32; i++) {
                ret[2 * i] = digits[md[i] >> 4];
                ret[2 * i + 1] = digits[md[i] & 15];
        }
        ret[64] = 0;
        return 0;
}
