/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The DfuSe engine against simulated bootloaders: every test runs engine-flash (image -> sanitize ->
 * plan -> dfuse_execute, one thread per board) under dfusd-sim, then reads the flash the simulator
 * dumped and its request counters. Flash contents are compared byte for byte.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "image/image.h"
#include "macro.h"
#include "parts.h"

#include "test-main.h"
#include <glib.h>
#include <glib/gstdio.h>

#define FLASH_BASE 0x08000000u
#define SCALE      "0.01"

typedef struct Run {
        char *dir;
        char *out, *err;
        int status;
        const char *scale; /* --time-scale, SCALE when NULL */
} Run;

static void run_clear(Run *r) {
        if (r->dir) {
                g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", r->dir);
                g_assert_cmpint(system(cmd), ==, 0);
        }
        g_free(r->dir);
        g_free(r->out);
        g_free(r->err);
        *r = (Run){};
}

/* Random image of size bytes, deterministic per seed. */
static GBytes *make_image(uint32_t size, guint32 seed) {
        g_autoptr(GRand) rand = g_rand_new_with_seed(seed);
        uint8_t *p = g_malloc(size);
        for (uint32_t i = 0; i < size; i++)
                p[i] = (uint8_t)g_rand_int(rand);
        return g_bytes_new_take(p, size);
}

static char *write_image(Run *r, const char *name, GBytes *image) {
        char *path = g_build_filename(r->dir, name, NULL);
        g_autoptr(GError) e = NULL;
        gsize n;
        const void *p = g_bytes_get_data(image, &n);
        g_assert_true(g_file_set_contents(path, p, (gssize)n, &e));
        return path;
}

static char *write_text(Run *r, const char *name, const char *text) {
        char *path = g_build_filename(r->dir, name, NULL);
        g_assert_true(g_file_set_contents(path, text, -1, NULL));
        return path;
}

/* sim_args and flash_args are NULL-terminated; the run's dump goes to r->dir/dump. */
static void run_sim(Run *r, const char *const *sim_args, const char *const *flash_args) {
        g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GError) e = NULL;

        g_ptr_array_add(argv, g_strdup(DFUSD_SIM));
        g_ptr_array_add(argv, g_strdup("--time-scale"));
        g_ptr_array_add(argv, g_strdup(r->scale ?: SCALE));
        g_ptr_array_add(argv, g_strdup("--dump-dir"));
        g_ptr_array_add(argv, g_build_filename(r->dir, "dump", NULL));
        for (; sim_args && *sim_args; sim_args++)
                g_ptr_array_add(argv, g_strdup(*sim_args));
        g_ptr_array_add(argv, g_strdup("--"));
        g_ptr_array_add(argv, g_strdup(ENGINE_FLASH));
        for (; flash_args && *flash_args; flash_args++)
                g_ptr_array_add(argv, g_strdup(*flash_args));
        g_ptr_array_add(argv, NULL);

        g_autofree char *dump = g_build_filename(r->dir, "dump", NULL);
        g_assert_cmpint(g_mkdir(dump, 0700), ==, 0);
        g_assert_true(g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &r->out,
                                   &r->err, &r->status, &e));
        g_test_message("stdout:\n%s\nstderr:\n%s", r->out, r->err);
}

static void run_init(Run *r) {
        g_autoptr(GError) e = NULL;
        r->dir = g_dir_make_tmp("engine-XXXXXX", &e);
        g_assert_no_error(e);
}

static bool exited_ok(const Run *r) {
        return g_spawn_check_wait_status(r->status, NULL);
}

/* The value of key=N in the line engine-flash printed for port. */
static guint64 stat_of(const Run *r, const char *port, const char *key) {
        g_autofree char *prefix = g_strdup_printf("%s ", port);
        g_autofree char *needle = g_strdup_printf(" %s=", key);
        g_auto(GStrv) lines = g_strsplit(r->out, "\n", -1);

        for (char **l = lines; *l; l++) {
                if (!g_str_has_prefix(*l, prefix) || strstr(*l, " info ") || strstr(*l, " alt") ||
                    strstr(*l, " progress "))
                        continue;
                const char *p = strstr(*l, needle);
                g_assert_nonnull(p);
                return g_ascii_strtoull(p + strlen(needle), NULL, 10);
        }
        g_assert_not_reached();
}

static json_object *load_json(const Run *r, const char *port) {
        g_autofree char *path = g_strdup_printf("%s/dump/%s.json", r->dir, port);
        json_object *o = json_object_from_file(path);
        g_assert_nonnull(o);
        return o;
}

static guint64 counter(const Run *r, const char *port, const char *key) {
        json_object *o = load_json(r, port), *c, *v;
        g_assert_true(json_object_object_get_ex(o, "counters", &c));
        g_assert_true(json_object_object_get_ex(c, key, &v));
        guint64 n = json_object_get_uint64(v);
        json_object_put(o);
        return n;
}

/* The DFU state the board was left in (DFU 1.1 numbering: 2 is dfuIDLE). */
static guint64 dfu_state(const Run *r, const char *port) {
        json_object *o = load_json(r, port), *v;
        g_assert_true(json_object_object_get_ex(o, "dfu_state", &v));
        guint64 n = json_object_get_uint64(v);
        json_object_put(o);
        return n;
}

/* Bytes of the sectors the board erased, from its sector list. */
static guint64 erased_bytes(const Run *r, const char *port) {
        g_autofree char *part = NULL;
        json_object *o = load_json(r, port), *v;
        g_assert_true(json_object_object_get_ex(o, "part", &v));
        part = g_strdup(json_object_get_string(v));
        json_object_put(o);
        const PartInfo *p = part_find(part);
        _cleanup_(memmap_freep) MemMap *map = NULL;
        /* erases_per_sector follows the sectors of alternate setting 0 in address order. */
        g_assert_cmpint(part_memmap(p, &map, NULL), ==, 0);
        o = load_json(r, port);
        json_object *c, *a;
        g_assert_true(json_object_object_get_ex(o, "counters", &c));
        g_assert_true(json_object_object_get_ex(c, "erases_per_sector", &a));
        guint64 sum = 0;
        size_t k = 0;
        const MemLayout *l = &map->layouts[0];
        for (size_t ri = 0; ri < l->n_regions; ri++)
                for (size_t u = 0; u < l->regions[ri].n_runs; u++)
                        for (uint32_t j = 0; j < l->regions[ri].runs[u].count; j++, k++)
                                if (k < json_object_array_length(a) &&
                                    json_object_get_uint64(json_object_array_get_idx(a, k)) > 0)
                                        sum += l->regions[ri].runs[u].size;
        json_object_put(o);
        return sum;
}

/* No sector erased twice in one job: the plan erases each once, in address order. */
static void assert_erased_at_most_once(const Run *r, const char *port) {
        json_object *o = load_json(r, port), *c, *a;
        g_assert_true(json_object_object_get_ex(o, "counters", &c));
        g_assert_true(json_object_object_get_ex(c, "erases_per_sector", &a));
        for (size_t i = 0; i < json_object_array_length(a); i++)
                g_assert_cmpuint(json_object_get_uint64(json_object_array_get_idx(a, i)), <=, 1);
        json_object_put(o);
}

/* The dumped flash is the image at FLASH_BASE + offset, and erased (0xFF) or untouched elsewhere. */
static void assert_flash(const Run *r, const char *port, GBytes *image, uint32_t offset) {
        g_autofree char *path = g_strdup_printf("%s/dump/%s.bin", r->dir, port);
        g_autofree char *flash = NULL;
        gsize n, len;
        const uint8_t *img = g_bytes_get_data(image, &n);

        g_assert_true(g_file_get_contents(path, &flash, &len, NULL));
        g_assert_cmpuint(len, >=, offset + n);
        g_assert_cmpmem(flash + offset, n, img, n);
        for (gsize i = 0; i < offset; i++)
                g_assert_cmphex((uint8_t)flash[i], ==, 0xff);
        for (gsize i = offset + n; i < len; i++)
                g_assert_cmphex((uint8_t)flash[i], ==, 0xff);
}

static void assert_line(const Run *r, const char *port, const char *word) {
        g_autofree char *needle = g_strdup_printf("%s %s ", port, word);
        g_assert_nonnull(strstr(r->out, needle));
}

/* Full flash of a part: image, verify, leave; the board must end with the image and have left. */
static void flash_part(const char *part, uint32_t size, bool expect_stalls, bool expect_stuck) {
        Run r = {};
        run_init(&r);
        g_autoptr(GBytes) image = make_image(size, size ^ 0x5eed);
        g_autofree char *img = write_image(&r, "fw.bin", image);
        g_autofree char *job = g_strdup_printf("1-1=%s", img);
        /*
         * The L4 stalls a poll that comes before its page erase ends, a window of 1 ms in 22 that
         * scheduling decides; the script stalls the second poll of the erase phase three times in a
         * row instead, the most the engine must take.
         */
        g_autofree char *script = write_text(&r, "script", "board 1-1 stall count=3 phase=erase poll=2\n");
        const char *sim[] = {"--part", part, expect_stalls ? "--script" : NULL, script, NULL};
        const char *flash[] = {"--verify", "--info", job, NULL};

        run_sim(&r, sim, flash);
        g_assert_true(exited_ok(&r));
        assert_line(&r, "1-1", "ok");
        /* Recognised from its strings (H747 and H743 report the same ones, so either may be named). */
        g_assert_null(strstr(r.out, "part=- "));
        assert_flash(&r, "1-1", image, 0);
        assert_erased_at_most_once(&r, "1-1");
        /* The last block is padded to whole flash words. */
        g_assert_cmpuint(stat_of(&r, "1-1", "written"), >=, size);
        g_assert_cmpuint(stat_of(&r, "1-1", "written"), <, size + 32);
        g_assert_cmpuint(stat_of(&r, "1-1", "verified"), ==, stat_of(&r, "1-1", "written"));
        g_assert_cmpuint(counter(&r, "1-1", "leave"), ==, 1);
        /* Progress reached the end of every phase, never went back, and said so. */
        g_autofree char *progress = g_strdup_printf(
                "1-1 progress read=0/0 erase=%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT
                " write=%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT " verify=%" G_GUINT64_FORMAT
                "/%" G_GUINT64_FORMAT " done=yes forward=yes leave=yes",
                erased_bytes(&r, "1-1"), erased_bytes(&r, "1-1"), stat_of(&r, "1-1", "written"),
                stat_of(&r, "1-1", "written"), stat_of(&r, "1-1", "written"), stat_of(&r, "1-1", "written"));
        g_assert_nonnull(strstr(r.out, progress));
        /* The erase phase counts sectors: every one the board erased. */
        g_autofree char *sectors =
                g_strdup_printf(" leave=yes sectors=%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT "\n",
                                stat_of(&r, "1-1", "erases"), stat_of(&r, "1-1", "erases"));
        g_assert_nonnull(strstr(r.out, sectors));
        g_assert_cmpuint(stat_of(&r, "1-1", "erases"), >, 0);
        /*
         * One set-address for the whole job: none per block, and the pointer set for the write run
         * still serves its verify read and the leave (the image is one run starting at the leave address).
         */
        g_assert_cmpuint(stat_of(&r, "1-1", "set_addresses"), ==, 1);
        g_assert_cmpuint(counter(&r, "1-1", "set_address"), ==, 1);
        /* CLRSTATUS: once on arrival where the board starts in dfuERROR, twice per stuck command. */
        guint64 arrival = (part_find(part)->quirks & PART_QUIRK_ARRIVES_IN_ERROR) ? 1 : 0;
        g_assert_cmpuint(counter(&r, "1-1", "clrstatus"), ==, arrival + 2 * stat_of(&r, "1-1", "stuck"));
        /*
         * The board stalls only polls after a DfuSe command, the engine polls a set address no sooner
         * than asked, so the stalls it tolerated are the polls after page erases: never more than three
         * in a row, and the job went through.
         */
        if (expect_stalls) {
                g_assert_cmpuint(stat_of(&r, "1-1", "stalls"), >=, 3);
                g_assert_cmpuint(stat_of(&r, "1-1", "stalls"), ==, counter(&r, "1-1", "stalls"));
                g_assert_cmpuint(stat_of(&r, "1-1", "stalls"), <=, 3 * counter(&r, "1-1", "erase"));
        } else
                g_assert_cmpuint(counter(&r, "1-1", "stalls"), ==, 0);
        if (expect_stuck)
                g_assert_cmpuint(stat_of(&r, "1-1", "stuck"), >, 0);
        else
                g_assert_cmpuint(stat_of(&r, "1-1", "stuck"), ==, 0);
        run_clear(&r);
}

/* F405: arrives in dfuERROR/errFIRMWARE; sectors of 16, 64 and 128 KB. */
static void test_f405(void) {
        flash_part("f405", 256 * 1024 + 300, false, false);
}

/*
 * L4: polls after a page erase stall, since the bootloader asks for less time than the erase takes;
 * block writes hold their polls back instead.
 */
static void test_l476(void) {
        flash_part("l476", 4 * 1024 + 100, true, false);
}

/* G4: 1 KB transfers, resets instead of answering the leave GETSTATUS. */
static void test_g431(void) {
        flash_part("g431", 40 * 1024 + 10, false, false);
}

/* H743: sectors past 1 MB leave it stuck in dfuDNBUSY until two CLRSTATUS. */
static void test_h743(void) {
        flash_part("h743", 1024 * 1024 + 200 * 1024, false, true);
}

static void test_h747(void) {
        flash_part("h747", 300 * 1024, false, false);
}

/* G0B1 names every alternate setting alike: the engine must go by index. */
static void test_same_alt_strings(void) {
        flash_part("g0b1", 20 * 1024, false, false);
}

/*
 * F405 mass erase: the bootloader says 100 ms and takes seconds, holding back the answer to the poll
 * meanwhile. With a USB timeout far below the erase time, only the quirk lets the job through.
 */
static void test_f405_mass_erase(void) {
        Run r = {.scale = "0.05"};
        run_init(&r);
        g_autoptr(GBytes) image = make_image(64 * 1024, 7);
        g_autofree char *img = write_image(&r, "fw.bin", image);
        g_autofree char *job = g_strdup_printf("1-1=%s", img);
        const char *sim[] = {"--part", "f405", NULL};
        const char *flash[] = {"--mass-erase", "--no-leave", "--timeout", "100", job, NULL};

        run_sim(&r, sim, flash);
        g_assert_true(exited_ok(&r));
        assert_flash(&r, "1-1", image, 0);
        g_assert_cmpuint(counter(&r, "1-1", "mass_erase"), ==, 1);
        g_assert_cmpuint(counter(&r, "1-1", "erase"), ==, 0);
        g_assert_cmpuint(counter(&r, "1-1", "leave"), ==, 0);
        g_assert_cmpuint(dfu_state(&r, "1-1"), ==, 2); /* dfuIDLE after the download, too */
        run_clear(&r);
}

/*
 * A fault during the job: the job fails with msg in its message; with `steps` engine-flash sends them
 * to the simulator once the attempt has failed (a replug where the board was unplugged), opens the
 * board again and must flash it completely.
 */
static void fault_case(const char *part, const char *script, const char *msg, const char *steps,
                       const char *timeout) {
        Run r = {};
        run_init(&r);
        g_autoptr(GBytes) image = make_image(96 * 1024, 11);
        g_autofree char *img = write_image(&r, "fw.bin", image);
        g_autofree char *scr = write_text(&r, "script", script);
        g_autofree char *job = g_strdup_printf("1-1=%s", img);
        const char *sim[] = {"--part", part, "--script", scr, NULL};
        const char *retry[] = {"--verify",      "--timeout", timeout, "--retry",
                               "--retry-steps", steps,       job,     NULL};
        const char *once[] = {"--verify", "--timeout", timeout, job, NULL};

        run_sim(&r, sim, steps ? retry : once);
        g_assert_nonnull(strstr(steps ? r.err : r.out, msg));
        if (steps) {
                g_assert_true(exited_ok(&r));
                assert_line(&r, "1-1", "ok");
                assert_flash(&r, "1-1", image, 0);
        } else {
                g_assert_false(exited_ok(&r));
                assert_line(&r, "1-1", "failed");
        }
        run_clear(&r);
}

static void test_fault_unplug(void) {
        /* the board has left the bus before the failure is seen, so the plug finds its port free */
        fault_case("h743", "board 1-1 unplug phase=write after=40\n",
                   "failed: the board disconnected (phase write", "plug 1-1\n", "2000");
}

static void test_fault_stall(void) {
        fault_case("f405", "board 1-1 stall phase=write after=30\n",
                   "failed: the board stalled the request (phase write", "", "2000");
}

static void test_fault_status(void) {
        fault_case("l476", "board 1-1 status errPROG phase=write after=30\n", "write of block at 0x080", "",
                   "2000");
        fault_case("f405", "board 1-1 status errERASE phase=erase after=4\n",
                   "erase of sector 0x08004000 failed: device reports errERASE in state dfuERROR", NULL,
                   "2000");
}

static void test_fault_hang(void) {
        fault_case("g431", "board 1-1 hang phase=write after=20\n",
                   "failed: the board did not answer within 300 ms (phase write", "unplug 1-1\nplug 1-1\n",
                   "300");
}

/* A read-protected board refuses erases and reads with errVENDOR; the message says what that means. */
static void protected_case(const char *skip, const char *msg) {
        Run r = {};
        run_init(&r);
        g_autoptr(GBytes) image = make_image(16 * 1024, 3);
        g_autofree char *img = write_image(&r, "fw.bin", image);
        g_autofree char *job = g_strdup_printf("1-1=%s", img);
        const char *sim[] = {"--part", "f405", "--protected", NULL};
        const char *flash[] = {"--skip", skip, job, NULL};

        run_sim(&r, sim, flash);
        g_assert_false(exited_ok(&r));
        g_assert_nonnull(strstr(r.out, msg));
        g_assert_nonnull(strstr(r.out, "read-out protection is active"));
        run_clear(&r);
}

static void test_read_protection(void) {
        protected_case("none",
                       "erase of sector 0x08000000 failed: device reports errVENDOR in state dfuERROR");
        protected_case("identical",
                       "read of sector 0x08000000 failed: device reports errVENDOR in state dfuERROR");
}

/* Cancelled from another thread after 20 blocks: -ECANCELED, the board back in dfuIDLE, usable. */
static void test_cancel(void) {
        Run r = {};
        run_init(&r);
        g_autoptr(GBytes) image = make_image(128 * 1024, 5);
        g_autofree char *img = write_image(&r, "fw.bin", image);
        g_autofree char *job = g_strdup_printf("1-1=%s", img);
        const char *sim[] = {"--part", "h747", NULL};
        const char *flash[] = {"--cancel-after", "20", "--retry", "--verify", job, NULL};

        run_sim(&r, sim, flash);
        g_assert_nonnull(strstr(r.err, "first attempt failed: cancelled during write at 0x080"));
        g_assert_true(exited_ok(&r));
        assert_flash(&r, "1-1", image, 0);
        /* The second attempt found the board idle: no CLRSTATUS was needed anywhere. */
        g_assert_cmpuint(counter(&r, "1-1", "clrstatus"), ==, 0);
        g_assert_cmpuint(counter(&r, "1-1", "abort"), >=, 1);
        run_clear(&r);
}

/* Sectors already holding the image are neither erased nor written again. */
static void test_skip_identical(void) {
        Run r = {};
        run_init(&r);
        g_autoptr(GBytes) image = make_image(64 * 1024, 9);
        g_autofree char *img = write_image(&r, "fw.bin", image);
        /* The same image with its third 16 KB sector changed. */
        uint8_t *b = g_memdup2(g_bytes_get_data(image, NULL), 64 * 1024);
        for (unsigned i = 32 * 1024; i < 48 * 1024; i += 7)
                b[i] ^= 0x5a;
        g_autoptr(GBytes) changed = g_bytes_new_take(b, 64 * 1024);
        g_autofree char *img2 = write_image(&r, "fw2.bin", changed);
        /* Three jobs on one board under one simulator run: A, A again, then A with one sector changed. */
        g_autofree char *jobs =
                g_strdup_printf("set -e; f='%s --no-leave --skip identical --verify'; $f 1-1=%s; "
                                "$f 1-1=%s; $f 1-1=%s",
                                ENGINE_FLASH, img, img, img2);
        const char *sh[] = {"/bin/sh", "-c", jobs, NULL};
        g_autoptr(GPtrArray) argv = g_ptr_array_new();
        g_autofree char *dump = g_build_filename(r.dir, "dump", NULL);
        g_assert_cmpint(g_mkdir(dump, 0700), ==, 0);
        const char *pre[] = {DFUSD_SIM, "--time-scale", SCALE, "--dump-dir", dump, "--part", "f405", "--"};
        for (size_t i = 0; i < G_N_ELEMENTS(pre); i++)
                g_ptr_array_add(argv, (char *)pre[i]);
        for (size_t i = 0; sh[i]; i++)
                g_ptr_array_add(argv, (char *)sh[i]);
        g_ptr_array_add(argv, NULL);
        g_assert_true(g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &r.out,
                                   &r.err, &r.status, NULL));
        g_test_message("stdout:\n%s\nstderr:\n%s", r.out, r.err);
        g_assert_true(exited_ok(&r));
        assert_flash(&r, "1-1", changed, 0);
        /* Four 16 KB sectors erased by the first job, none by the second, the changed one by the third. */
        g_assert_cmpuint(counter(&r, "1-1", "erase"), ==, 5);
        g_assert_cmpuint(counter(&r, "1-1", "bytes_written"), ==, 80 * 1024);
        g_assert_nonnull(strstr(r.out, "erases=4 skipped=0 written=65536 verified=65536"));
        g_assert_nonnull(strstr(r.out, "erases=0 skipped=4 written=0 verified=65536"));
        g_assert_nonnull(strstr(r.out, "erases=1 skipped=3 written=16384 verified=65536"));
        run_clear(&r);
}

/*
 * Written over without an erase, F4 flash keeps the AND of old and new bits: the read-back differs and
 * the verify names the first address where it does.
 */
static void test_verify_mismatch(void) {
        Run r = {};
        run_init(&r);
        g_autoptr(GBytes) a = make_image(8 * 1024, 21), b = make_image(8 * 1024, 22);
        g_autofree char *img_a = write_image(&r, "a.bin", a);
        g_autofree char *img_b = write_image(&r, "b.bin", b);
        const uint8_t *pa = g_bytes_get_data(a, NULL), *pb = g_bytes_get_data(b, NULL);
        uint32_t first = 0;
        while ((pa[first] & pb[first]) == pb[first])
                first++;
        g_autofree char *jobs = g_strdup_printf("%s --no-leave 1-1=%s && %s --no-erase --verify 1-1=%s",
                                                ENGINE_FLASH, img_a, ENGINE_FLASH, img_b);
        g_autofree char *dump = g_build_filename(r.dir, "dump", NULL);
        g_assert_cmpint(g_mkdir(dump, 0700), ==, 0);
        const char *argv[] = {DFUSD_SIM, "--time-scale", SCALE,     "--dump-dir", dump, "--part",
                              "f405",    "--",           "/bin/sh", "-c",         jobs, NULL};
        g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &r.out, &r.err,
                                   &r.status, NULL));
        g_test_message("stdout:\n%s\nstderr:\n%s", r.out, r.err);
        g_assert_false(exited_ok(&r));
        g_autofree char *msg =
                g_strdup_printf("verify failed: 0x%08X reads 0x%02X where the image has 0x%02X",
                                0x08000000u + first, pa[first] & pb[first], pb[first]);
        g_assert_nonnull(strstr(r.out, msg));
        run_clear(&r);
}

/*
 * Block numbers stop at 65535, so a long run needs a new set-address every (65535 - 2) blocks; shrunk
 * to 7 blocks here, a 20-block run is written and read back in three windows each.
 */
static void test_window(void) {
        Run r = {};
        run_init(&r);
        g_autoptr(GBytes) image = make_image(20 * 2048 - 100, 31);
        g_autofree char *img = write_image(&r, "fw.bin", image);
        g_autofree char *job = g_strdup_printf("1-1=%s", img);
        const char *sim[] = {"--part", "h743", NULL};
        const char *flash[] = {"--window", "7", "--verify", "--no-leave", job, NULL};

        run_sim(&r, sim, flash);
        g_assert_true(exited_ok(&r));
        assert_flash(&r, "1-1", image, 0);
        g_assert_cmpuint(stat_of(&r, "1-1", "set_addresses"), ==, 6);
        g_assert_cmpuint(counter(&r, "1-1", "set_address"), ==, 6);
        g_assert_cmpuint(counter(&r, "1-1", "blocks_written"), ==, 20);
        /* Not left: back in dfuIDLE after the verify read, not in dfuUPLOAD-IDLE. */
        g_assert_cmpuint(counter(&r, "1-1", "leave"), ==, 0);
        g_assert_cmpuint(dfu_state(&r, "1-1"), ==, 2);
        run_clear(&r);
}

/*
 * Segments sharing pages, one crossing three page edges and ending in a page the next one starts in:
 * every touched page erased exactly once, the others never, and the bytes between segments blank.
 */
static void test_erase_once(void) {
        static const uint32_t spec[][2] = {
                {0x08000010, 16},     {0x08000400, 32}, {0x080007F0, 0x20}, {0x08000900, 8},
                {0x08001FF8, 0x1010}, {0x08003100, 4},  {0x08007000, 4},
        };
        static const unsigned touched[] = {0, 1, 3, 4, 5, 6, 14};
        Run r = {};
        run_init(&r);
        _cleanup_(image_freep) Image *image = image_new("fw.hex");
        g_autoptr(GBytes) bytes = make_image(0x8000, 41);
        const uint8_t *src = g_bytes_get_data(bytes, NULL);
        uint8_t flash[0x8000];

        memset(flash, 0xFF, sizeof(flash));
        for (size_t i = 0; i < G_N_ELEMENTS(spec); i++) {
                uint32_t off = spec[i][0] - FLASH_BASE;
                g_assert_cmpint(
                        image_add_segment(image, spec[i][0], src + off, spec[i][1], "fw.hex", -1, NULL), ==,
                        0);
                memcpy(flash + off, src + off, spec[i][1]);
        }
        g_autofree char *img = g_build_filename(r.dir, "fw.hex", NULL);
        int fd = open(img, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(image_write_ihex(image, fd, NULL), ==, 0);
        close(fd);
        g_autofree char *job = g_strdup_printf("1-1=%s", img);
        const char *sim[] = {"--part", "g431", NULL};
        const char *flash_args[] = {"--verify", "--no-leave", job, NULL};

        run_sim(&r, sim, flash_args);
        g_assert_true(exited_ok(&r));
        g_autoptr(GBytes) expected = g_bytes_new(flash, sizeof(flash));
        assert_flash(&r, "1-1", expected, 0);
        g_assert_cmpuint(counter(&r, "1-1", "erase"), ==, G_N_ELEMENTS(touched));

        json_object *o = load_json(&r, "1-1"), *c, *a;
        g_assert_true(json_object_object_get_ex(o, "counters", &c));
        g_assert_true(json_object_object_get_ex(c, "erases_per_sector", &a));
        g_assert_cmpuint(json_object_array_length(a), ==, 64);
        for (unsigned page = 0, k = 0; page < 64; page++) {
                bool erased = k < G_N_ELEMENTS(touched) && touched[k] == page;
                g_assert_cmpuint(json_object_get_uint64(json_object_array_get_idx(a, page)), ==, erased);
                k += erased;
        }
        json_object_put(o);
        run_clear(&r);
}

/* dfuse_read() gives back what was written, on a board left in the bootloader. */
static void test_read(void) {
        Run r = {};
        run_init(&r);
        g_autoptr(GBytes) image = make_image(70 * 1024 + 6, 17);
        g_autofree char *img = write_image(&r, "fw.bin", image);
        g_autofree char *job = g_strdup_printf("1-1=%s", img);
        const char *sim[] = {"--part", "g431", NULL};
        const char *flash[] = {"--no-leave", "--read-back", r.dir, job, NULL};
        g_autofree char *back = g_strdup_printf("%s/1-1.read", r.dir);
        g_autofree char *data = NULL;
        gsize n;

        run_sim(&r, sim, flash);
        g_assert_true(exited_ok(&r));
        g_assert_true(g_file_get_contents(back, &data, &n, NULL));
        /* The run is padded to whole flash words with 0xFF. */
        g_assert_cmpuint(n, >=, g_bytes_get_size(image));
        g_assert_cmpmem(data, g_bytes_get_size(image), g_bytes_get_data(image, NULL),
                        g_bytes_get_size(image));
        for (gsize i = g_bytes_get_size(image); i < n; i++)
                g_assert_cmphex((uint8_t)data[i], ==, 0xff);
        run_clear(&r);
}

/* F4 flash has no ECC: sectors that read blank are written without an erase. */
static void test_skip_blank(void) {
        Run r = {};
        run_init(&r);
        g_autoptr(GBytes) image = make_image(40 * 1024, 13);
        g_autofree char *img = write_image(&r, "fw.bin", image);
        g_autofree char *job = g_strdup_printf("1-1=%s", img);
        const char *sim[] = {"--part", "f405", NULL};
        const char *flash[] = {"--skip", "blank", "--verify", job, NULL};

        run_sim(&r, sim, flash);
        g_assert_true(exited_ok(&r));
        assert_flash(&r, "1-1", image, 0);
        g_assert_cmpuint(counter(&r, "1-1", "erase"), ==, 0);
        g_assert_nonnull(strstr(r.out, "erases=0 skipped=3 written=40960"));
        run_clear(&r);
}

/* Four boards of different families at once, one thread each, one libusb context; two behind hubs. */
static void test_parallel(void) {
        Run r = {};
        run_init(&r);
        const char *parts[] = {"h743", "f405", "l476", "g431"};
        const char *ports[] = {"1-1", "1-2", "1-9.2", "1-10.3"};
        const uint32_t sizes[] = {200 * 1024, 100 * 1024, 30 * 1024, 20 * 1024};
        GBytes *images[4];
        char *jobs[4];

        for (unsigned i = 0; i < 4; i++) {
                g_autofree char *name = g_strdup_printf("fw%u.bin", i);
                images[i] = make_image(sizes[i], 100 + i);
                g_autofree char *img = write_image(&r, name, images[i]);
                jobs[i] = g_strdup_printf("%s=%s", ports[i], img);
        }
        const char *sim[] = {"--boards", "4",      "--ports", "1-1,1-2,1-9.2,1-10.3",
                             "--part",   parts[0], "--part",  parts[1],
                             "--part",   parts[2], "--part",  parts[3],
                             NULL};
        const char *flash[] = {"--verify", jobs[0], jobs[1], jobs[2], jobs[3], NULL};

        run_sim(&r, sim, flash);
        g_assert_true(exited_ok(&r));
        for (unsigned i = 0; i < 4; i++) {
                assert_line(&r, ports[i], "ok");
                assert_flash(&r, ports[i], images[i], 0);
                g_bytes_unref(images[i]);
                g_free(jobs[i]);
        }
        run_clear(&r);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/engine/flash/f405", test_f405);
        g_test_add_func("/engine/flash/l476", test_l476);
        g_test_add_func("/engine/flash/g431", test_g431);
        g_test_add_func("/engine/flash/h743", test_h743);
        g_test_add_func("/engine/flash/h747", test_h747);
        g_test_add_func("/engine/flash/same-alt-strings", test_same_alt_strings);
        g_test_add_func("/engine/flash/f405-mass-erase", test_f405_mass_erase);
        g_test_add_func("/engine/flash/skip-identical", test_skip_identical);
        g_test_add_func("/engine/flash/skip-blank", test_skip_blank);
        g_test_add_func("/engine/flash/erase-once", test_erase_once);
        g_test_add_func("/engine/read", test_read);
        g_test_add_func("/engine/window", test_window);
        g_test_add_func("/engine/verify-mismatch", test_verify_mismatch);
        g_test_add_func("/engine/flash/parallel", test_parallel);
        g_test_add_func("/engine/fault/unplug", test_fault_unplug);
        g_test_add_func("/engine/fault/stall", test_fault_stall);
        g_test_add_func("/engine/fault/status", test_fault_status);
        g_test_add_func("/engine/fault/hang", test_fault_hang);
        g_test_add_func("/engine/fault/read-protection", test_read_protection);
        g_test_add_func("/engine/cancel", test_cancel);
        return test_run();
}
