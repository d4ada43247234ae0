/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "job.h"
#include "journal.h"
#include "log.h"
#include "manager.h"
#include "option-bytes.h"
#include "protect.h"
#include "queue.h"
#include "time-util.h"

static int refuse_protected(Job *j) {
        return dfu_error_set(
                &j->worker_error, EACCES,
                "The board on port %s (serial %s) is read-protected (RDP level 1): nothing was "
                "erased or written. The option 'unprotect' (dfusctl flash --unprotect) regresses "
                "it, which erases its whole flash.",
                j->port_path, j->serial && *j->serial ? j->serial : "-");
}

/* Appends to what the job changed: "read protection removed ...; bor_lev 3 -> 1; locked ...". */
static int add_note(Job *j, const char *fmt, ...) _printf_(2, 3);
static int add_note(Job *j, const char *fmt, ...) {
        _cleanup_free_ char *part = NULL;
        char *n = NULL;
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = vasprintf(&part, fmt, ap);
        va_end(ap);
        if (k < 0 ||
            asprintf(&n, "%s%s%s", j->protection_done ?: "", j->protection_done ? "; " : "", part) < 0)
                return dfu_error_set(&j->worker_error, ENOMEM, "Out of memory.");
        free(j->protection_done);
        j->protection_done = n;
        return 0;
}

static int unprotect_step(Job *j, DfuseDevice *dev) {
        DfuseProtection p = j->board_protection;
        int r;

        if (j->unprotect_done)
                return 0;
        if (j->unprotect_sent) {
                /* Back after the read unprotect: it must have worked. */
                r = dfuse_probe_protection(dev, &j->cancel, &p, &j->worker_error);
                if (r < 0)
                        return r;
                if (p != DFUSE_PROTECTION_NONE)
                        return dfu_error_set(&j->worker_error, EACCES,
                                             "The board on port %s is still read-protected after the read "
                                             "unprotect; is write protection on as well?",
                                             j->port_path);
                j->board_protection = p;
                j->unprotect_done = true;
                journal_protection_changed(j, "read-unprotect",
                                           "read protection removed, the flash mass-erased");
                return add_note(j, "read protection removed (flash mass-erased)");
        }
        if (p == DFUSE_PROTECTION_UNKNOWN && j->opts.unprotect) {
                r = dfuse_probe_protection(dev, &j->cancel, &p, &j->worker_error);
                if (r < 0)
                        return r;
                j->board_protection = p;
        }
        if (p != DFUSE_PROTECTION_READ)
                return 0;
        if (!j->opts.unprotect)
                return refuse_protected(j);
        r = dfuse_read_unprotect(dev, &j->cancel, &j->worker_error);
        if (r < 0)
                return r;
        j->unprotect_sent = true;
        return PROTECT_BOARD_RETURNS;
}

/* The alternate setting that shows the family's option-byte block. */
static int option_bytes_alt(Job *j, DfuseDevice *dev, const OptionBytesFamily *f, unsigned *ret) {
        const MemMap *map = dfuse_get_info(dev)->map;

        for (size_t a = 1; map && a < map->n_layouts; a++)
                if (map->layouts[a].n_regions > 0 && map->layouts[a].regions[0].address == f->address &&
                    map->layouts[a].regions[0].size >= f->size) {
                        *ret = map->layouts[a].alt_setting;
                        return 0;
                }
        return dfu_error_set(&j->worker_error, ENOENT,
                             "The board on port %s shows no option bytes at 0x%08X; its part is not %s.",
                             j->port_path, f->address, f->description);
}

static int option_bytes_read(Job *j, DfuseDevice *dev, const OptionBytesFamily *f, unsigned *alt,
                             uint8_t *block) {
        int r = option_bytes_alt(j, dev, f, alt);
        if (r < 0)
                return r;
        r = dfuse_read(dev, *alt, f->address, block, f->size, &j->cancel, &j->worker_error);
        if (r < 0)
                return r;
        return option_bytes_check(f, block, &j->worker_error);
}

/* The changes of option "option-bytes" but RDP, which comes last (protect_after_plan). */
static int parse_changes(Job *j, const OptionBytesFamily *f, OptionBytesChange *c, size_t *n,
                         const OptionBytesChange **rdp) {
        OptionBytesChange all[OPTION_BYTES_CHANGES_MAX];
        size_t k = 0;
        int r;

        *n = 0;
        *rdp = NULL;
        if (!j->opts.option_bytes)
                return 0;
        r = option_bytes_parse_changes(f, j->opts.option_bytes, j->opts.allow_permanent_lock, all, &k,
                                       &j->worker_error);
        if (r < 0)
                return r;
        for (size_t i = 0; i < k; i++)
                if (streq(all[i].field->name, "rdp")) {
                        c[OPTION_BYTES_CHANGES_MAX - 1] = all[i];
                        *rdp = &c[OPTION_BYTES_CHANGES_MAX - 1];
                } else
                        c[(*n)++] = all[i];
        return 0;
}

static int option_bytes_step(Job *j, DfuseDevice *dev) {
        const OptionBytesFamily *f = option_bytes_family_for_part(j->part);
        OptionBytesChange c[OPTION_BYTES_CHANGES_MAX];
        const OptionBytesChange *rdp;
        uint8_t block[OPTION_BYTES_MAX], before[OPTION_BYTES_MAX];
        unsigned alt;
        size_t n;
        int r;

        if (j->option_bytes_done || !j->opts.option_bytes || !f)
                return 0;
        r = parse_changes(j, f, c, &n, &rdp);
        if (r < 0 || n == 0)
                return r;
        r = option_bytes_read(j, dev, f, &alt, block);
        if (r < 0)
                return r;
        if (j->option_bytes_sent) {
                /* Back after the reset: every named field reads as asked. */
                for (size_t i = 0; i < n; i++) {
                        char got[48], want[48];
                        uint32_t v = option_bytes_field_get(c[i].field, block);
                        if (v != c[i].raw)
                                return dfu_error_set(
                                        &j->worker_error, EIO,
                                        "Option bytes of the board on port %s read back %s=%s, not %s.",
                                        j->port_path, c[i].field->name,
                                        option_bytes_field_format(c[i].field, v, got, sizeof(got)),
                                        option_bytes_field_format(c[i].field, c[i].raw, want, sizeof(want)));
                }
                j->option_bytes_done = true;
                journal_protection_changed(j, "option-bytes",
                                           j->option_bytes_note ?: "option bytes changed");
                return add_note(j, "option bytes %s (read back equal)", j->option_bytes_note ?: "");
        }
        memcpy(before, block, f->size);
        option_bytes_apply(c, n, block);
        if (memcmp(before, block, f->size) == 0) {
                j->option_bytes_done = true;
                return add_note(j, "option bytes already as asked");
        }
        /* "bor_lev 3 -> 1, wdg_sw 1 -> 0", for the record once they read back. */
        free(j->option_bytes_note);
        j->option_bytes_note = NULL;
        for (size_t i = 0; i < n; i++) {
                char a[48], b[48], *note = NULL;
                if (asprintf(&note, "%s%s%s %s -> %s", j->option_bytes_note ?: "",
                             j->option_bytes_note ? ", " : "", c[i].field->name,
                             option_bytes_field_format(
                                     c[i].field, option_bytes_field_get(c[i].field, before), a, sizeof(a)),
                             option_bytes_field_format(c[i].field, c[i].raw, b, sizeof(b))) < 0)
                        return dfu_error_set(&j->worker_error, ENOMEM, "Out of memory.");
                free(j->option_bytes_note);
                j->option_bytes_note = note;
        }
        r = dfuse_write_option_bytes(dev, alt, f->address, block, (uint16_t)f->size, &j->cancel,
                                     &j->worker_error);
        if (r < 0)
                return r;
        j->option_bytes_sent = true;
        return PROTECT_BOARD_RETURNS;
}

static int lock_check(Job *j, DfuseDevice *dev) {
        DfuseProtection p;
        int r;

        /* Back after the option bytes set RDP: reads must be refused now. */
        r = dfuse_probe_protection(dev, &j->cancel, &p, &j->worker_error);
        if (r < 0)
                return r;
        if (p != DFUSE_PROTECTION_READ)
                return dfu_error_set(&j->worker_error, EIO,
                                     "The board on port %s still answers reads after RDP was set: it is not "
                                     "locked.",
                                     j->port_path);
        j->board_protection = p;
        journal_protection_changed(j, "lock", "locked: read-out protection set, reads refused");
        r = add_note(j, "locked (RDP level %u): reads refused", j->lock_level);
        return r < 0 ? r : PROTECT_JOB_DONE;
}

int protect_before_plan(Job *j, DfuseDevice *dev) {
        int r;

        if (j->lock_sent)
                return lock_check(j, dev);
        r = unprotect_step(j, dev);
        if (r != 0)
                return r;
        return option_bytes_step(j, dev);
}

int protect_after_plan(Job *j, DfuseDevice *dev) {
        const OptionBytesFamily *f = option_bytes_family_for_part(j->part);
        OptionBytesChange c[OPTION_BYTES_CHANGES_MAX];
        const OptionBytesChange *rdp = NULL;
        uint8_t block[OPTION_BYTES_MAX];
        uint32_t raw = 0xBB;
        unsigned alt;
        size_t n;
        int r;

        if (!f || (!j->opts.lock && !j->opts.option_bytes))
                return 0;
        r = parse_changes(j, f, c, &n, &rdp);
        if (r < 0)
                return r;
        if (rdp)
                raw = rdp->raw;
        else if (!j->opts.lock)
                return 0;
        r = option_bytes_read(j, dev, f, &alt, block);
        if (r < 0)
                return r;
        option_bytes_field_set(option_bytes_field_find(f, "rdp"), block, raw);
        j->lock_level = option_bytes_rdp_level(f, block);
        r = dfuse_write_option_bytes(dev, alt, f->address, block, (uint16_t)f->size, &j->cancel,
                                     &j->worker_error);
        if (r < 0)
                return r;
        j->lock_sent = true;
        return PROTECT_BOARD_RETURNS;
}

int protect_check_options(const JobOptions *o, const PartInfo *part, Plan *plan, DfuError *error) {
        const OptionBytesFamily *f;
        OptionBytesChange c[OPTION_BYTES_CHANGES_MAX];
        bool rdp = false;
        size_t n = 0;

        if (!o->lock && !o->option_bytes)
                return 0;
        f = option_bytes_family_for_part(part);
        if (!f)
                return dfu_error_set(
                        error, EINVAL,
                        "Option '%s' needs the board's option-byte table; there is none for part "
                        "%s (there are for F4, F7, L4, G4 and H7).",
                        o->option_bytes ? "option-bytes" : "lock", part ? part->name : "unknown");
        if (o->option_bytes &&
            option_bytes_parse_changes(f, o->option_bytes, o->allow_permanent_lock, c, &n, error) < 0) {
                error->code = EINVAL;
                return -EINVAL;
        }
        for (size_t i = 0; i < n; i++)
                if (streq(c[i].field->name, "rdp")) {
                        if (c[i].raw == 0xAA)
                                return dfu_error_set(
                                        error, EINVAL,
                                        "rdp=0 is what the option 'unprotect' does (it erases the "
                                        "flash first); it is not an option-byte change.");
                        rdp = true;
                }
        if (rdp && o->lock)
                return dfu_error_set(
                        error, EINVAL,
                        "Option 'lock' sets RDP level 1; do not name rdp in 'option-bytes' as well.");
        /* The lock is the last step, after the verify: the board stays in its bootloader for it. */
        if ((rdp || o->lock) && plan)
                plan->leave = false;
        return 0;
}

int protect_explain_failure(Job *j, int r) {
        /* The plan ran into the protection the probe at attach did not see. */
        if (r == -EACCES && !j->opts.unprotect) {
                j->worker_error = (DfuError)DFU_ERROR_INIT;
                return refuse_protected(j);
        }
        return r;
}

static int on_return_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Job *j = userdata;

        j->return_source = sd_event_source_disable_unref(j->return_source);
        if (!j->returning)
                return 0;
        j->returning = false;
        job_finish(j, JOB_FAILED,
                   "The board did not come back on its port after its reset; it may need a reset into its "
                   "bootloader.");
        return 0;
}

bool protect_device_fits(const Job *j, const Device *d) {
        return !j->returning || d->generation > j->left_generation;
}

void protect_await_return(Job *j) {
        Manager *m = j->manager;
        Device *d = device_find(m, j->port_path);
        int r;

        log_notice("Job %" PRIu32 ": the board on port %s resets (%s); waiting for it to come back.", j->id,
                   j->port_path,
                   j->lock_sent           ? "read-out protection set"
                   : j->option_bytes_sent ? "option bytes written"
                                          : "read unprotect");
        j->left_generation = d ? d->generation : 0;
        j->board_reset = true;
        if (d && d->current_job == j) {
                d->current_job = NULL;
                /* It is resetting: no other job may take it before it has gone and come back. */
                device_mark_left(d);
                manager_emit_device_changed(m, d, NULL);
        }
        /* Only the same port will do, and the job may wait for it. */
        free(j->opts.port);
        j->opts.port = strdup(j->port_path);
        j->opts.serial = mfree(j->opts.serial);
        j->opts.station = mfree(j->opts.station);
        j->opts.any = false;
        j->opts.wait = true;
        if (!j->opts.port) {
                job_finish(j, JOB_FAILED, "Out of memory.");
                return;
        }
        j->returning = true;
        r = sd_event_add_time_relative(m->event, &j->return_source, CLOCK_MONOTONIC,
                                       PROTECT_RETURN_TIMEOUT_USEC, USEC_PER_SEC, on_return_timeout, j);
        if (r < 0)
                log_warning_errno(r, "Failed to arm the return timeout of job %" PRIu32 ": %m", j->id);
        job_set_state(j, JOB_WAITING);
        queue_dispatch(m);
}
