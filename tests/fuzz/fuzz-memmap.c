/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The memory map string comes from a USB descriptor the device controls. Whatever it says, the
 * parser either fails with a message or yields a layout that is self-consistent: it formats back
 * into a string that parses to the same layout, and every sector it lists can be found again.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *s = NULL, *again = NULL, *again2 = NULL;
        DfuError error = DFU_ERROR_INIT;
        MemLayout l, l2;

        if (size > 4096)
                return 0;
        s = strndup((const char *)data, size);
        if (!s)
                return 0;
        if (memlayout_parse(s, 0, &l, &error) < 0) {
                if (error.code == 0 || error.message[0] == 0)
                        abort();
                return 0;
        }

        for (size_t i = 0; i < l.n_regions; i++)
                for (size_t k = 0; k < l.regions[i].n_runs; k++) {
                        const MemSectorRun *run = &l.regions[i].runs[k];
                        MemSector sec;
                        uint32_t last = run->address + (run->count - 1) * run->size;
                        if (memlayout_find_sector(&l, last, &sec) < 0 || sec.address != last ||
                            sec.size != run->size)
                                abort();
                }

        again = memlayout_to_string(&l);
        if (!again || memlayout_parse(again, 0, &l2, &error) < 0)
                abort();
        again2 = memlayout_to_string(&l2);
        if (!again2 || strcmp(again, again2) != 0 || memlayout_total_size(&l) != memlayout_total_size(&l2))
                abort();
        memlayout_done(&l2);
        memlayout_done(&l);
        return 0;
}
