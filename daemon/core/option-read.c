/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "dfuse.h"
#include "manager.h"
#include "option-read.h"
#include "queue.h"
#include "tasks.h"

typedef struct OptionRead {
        char *port;
        uint64_t generation;
        const OptionBytesFamily *family;
        OptionReadFn done;
        void *userdata;
        /* filled on the thread */
        int result;
        DfuError error;
        uint8_t block[OPTION_BYTES_MAX];
} OptionRead;

static void option_read_run(void *userdata) {
        OptionRead *o = userdata;
        _cleanup_(dfuse_closep) DfuseDevice *dev = NULL;
        const MemMap *map;
        int alt = -1;

        o->result = dfuse_open(NULL, o->port, &dev, &o->error);
        if (o->result < 0)
                return;
        map = dfuse_get_info(dev)->map;
        for (size_t a = 1; map && a < map->n_layouts; a++)
                if (map->layouts[a].n_regions > 0 &&
                    map->layouts[a].regions[0].address == o->family->address)
                        alt = (int)map->layouts[a].alt_setting;
        if (alt < 0) {
                o->result = dfu_error_set(&o->error, ENOENT,
                                          "The board on port %s shows no option bytes at 0x%08X.", o->port,
                                          o->family->address);
                return;
        }
        o->result = dfuse_read(dev, (unsigned)alt, o->family->address, o->block, o->family->size, NULL,
                               &o->error);
}

static void option_read_done(Manager *m, void *userdata) {
        OptionRead *o = userdata;
        Device *d = device_find(m, o->port);

        if (d && d->generation == o->generation && d->reading) {
                d->reading = false;
                if (!m->exiting) {
                        manager_emit_device_changed(m, d, NULL);
                        queue_dispatch(m);
                }
        }
        o->done(m, o->result, o->family, o->result >= 0 ? o->block : NULL, &o->error, o->userdata);
        free(o->port);
        free(o);
}

int option_read_start(Manager *m, Device *d, OptionReadFn done, void *userdata, DfuError *error) {
        const OptionBytesFamily *f = option_bytes_family_for_part(d->part);
        OptionRead *o;
        int r;

        if (!f)
                return dfu_error_set(error, EINVAL,
                                     "No option-byte table for the board on port %s (part %s).",
                                     d->port_path, d->part ? d->part->name : "unknown");
        if (!device_is_idle(d) || d->reading)
                return dfu_error_set(error, EBUSY, "The board on port %s is busy.", d->port_path);
        o = calloc(1, sizeof(OptionRead));
        if (!o || !(o->port = strdup(d->port_path))) {
                free(o);
                return dfu_error_set(error, ENOMEM, "Out of memory.");
        }
        o->generation = d->generation;
        o->family = f;
        o->done = done;
        o->userdata = userdata;
        r = tasks_start(m, option_read_run, option_read_done, o);
        if (r < 0) {
                free(o->port);
                free(o);
                return dfu_error_set(error, r == -EAGAIN ? EBUSY : -r, "Failed to start reading: %s",
                                     strerror(-r));
        }
        d->reading = true;
        manager_emit_device_changed(m, d, NULL);
        return 0;
}
