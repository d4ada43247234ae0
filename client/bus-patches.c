/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus-patches.h"

int bus_append_patches(sd_bus_message *m, const Patch *patches, size_t n) {
        int r = sd_bus_message_open_container(m, 'e', "sv");

        if (r >= 0)
                r = sd_bus_message_append(m, "s", "patches");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', "a(uss)");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(uss)");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                char format[16];
                patch_format_to_string(patches[i].format, patches[i].width, format);
                r = sd_bus_message_append(m, "(uss)", patches[i].address, format, patches[i].sequence);
        }
        for (int k = 0; r >= 0 && k < 3; k++)
                r = sd_bus_message_close_container(m);
        return r;
}
