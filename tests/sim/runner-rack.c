/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The boards of a run: who sits at which port, and what the script does to them over time. */
#include "runner.h" /* first: see testbed.h */

#include <errno.h>
#include <string.h>

/*
 * The ROM folds the 96-bit unique ID into 6 serial bytes (id[11], id[10]+id[2], id[9], id[8]+id[0],
 * id[7], id[6]); the port numbers go into bytes that survive the folding, so distinct ports always
 * give distinct serials.
 */
static void unique_id_for_port(const char *port, uint8_t id[static 12]) {
        static const uint8_t base[12] = {0x1d, 0x00, 0x3a, 0x00, 0x12, 0x51, 0, 0, 0x33, 0x00, 0x30, 0x00};
        static const uint8_t slots[] = {6, 7, 9, 11};
        const char *p = strchr(port, '-');
        unsigned tier = 0;

        memcpy(id, base, 12);
        for (p = p ? p + 1 : port; *p && tier < ELEMENTSOF(slots); tier++) {
                char *end;
                id[slots[tier]] = (uint8_t)strtoul(p, &end, 10);
                p = *end == '.' ? end + 1 : end;
        }
}

SimBoard *runner_make_board(const PartInfo *part, const char *port, double time_scale, bool read_protected) {
        SimBoardOptions o = {
                .part = part,
                .time_scale = time_scale,
                .read_protected = read_protected,
        };

        unique_id_for_port(port, o.unique_id);
        return sim_board_new(&o);
}
