/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "patch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * A patch spec (ADDRESS:FORMAT:SEQUENCE) comes from a caller and a value from a list the caller wrote.
 * The input is the spec, a newline, then the value. The spec either fails with a message or yields a
 * patch whose canonical form parses back to the same patch; rendering a value either fails with a
 * message or fills exactly the patch's width with what its format promises.
 */

static void check_error(int r, const DfuError *error) {
        if (r >= 0 || error->code == 0 || error->message[0] == 0)
                abort();
}

static void check_rendered(const Patch *p, const char *value, const uint8_t *buf) {
        switch (p->format) {
        case PATCH_DEC:
                for (unsigned i = 0; i < p->width; i++)
                        if (!isdigit(buf[i]))
                                abort();
                break;
        case PATCH_HEX:
                for (unsigned i = 0; i < p->width; i++)
                        if (!isdigit(buf[i]) && !(buf[i] >= 'A' && buf[i] <= 'F'))
                                abort();
                break;
        case PATCH_STR:
                if (strlen(value) > p->width || memcmp(buf, value, strlen(value)) != 0)
                        abort();
                for (unsigned i = strlen(value); i < p->width; i++)
                        if (buf[i] != 0)
                                abort();
                break;
        default:
                break;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = NULL, *canonical = NULL;
        /* Guards around the width: a render past it lands in them. */
        uint8_t buf[PATCH_WIDTH_MAX + 16];
        DfuError error = DFU_ERROR_INIT;
        const char *value;
        char *nl, format[16];
        Patch p, again;
        int r;

        if (size > 4096)
                return 0;
        text = strndup((const char *)data, size);
        if (!text)
                return 0;
        nl = strchr(text, '\n');
        if (nl)
                *nl = '\0';
        value = nl ? nl + 1 : "";

        r = patch_parse(text, &p, &error);
        if (r < 0) {
                check_error(r, &error);
                return 0;
        }
        if (p.width == 0 || p.width > PATCH_WIDTH_MAX || !sequence_name_is_valid(p.sequence) ||
            (uint64_t)p.address + p.width - 1 > UINT32_MAX)
                abort();
        canonical = patch_to_string(&p);
        if (!canonical || patch_parse(canonical, &again, &error) < 0 || memcmp(&p, &again, sizeof(p)) != 0)
                abort();
        patch_format_to_string(p.format, p.width, format);
        if (!strstr(canonical, format))
                abort();

        memset(buf, 0xA5, sizeof(buf));
        r = patch_render(&p, value, buf, &error);
        if (r < 0) {
                check_error(r, &error);
                return 0;
        }
        for (size_t i = p.width; i < sizeof(buf); i++)
                if (buf[i] != 0xA5)
                        abort();
        check_rendered(&p, value, buf);
        return 0;
}
