/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dfu-util, an independent DfuSe host, against the simulated bootloaders of dfusd-sim: what it lists,
 * what it flashes (read back from the dump), what the boards refuse, and boards that come and go.
 */
#include "option-bytes.h"
#include "parts.h" /* first: GLib redefines MIN and MAX */

#include "test-main.h"
#include <glib.h>
#include <glib/gstdio.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_object, json_object_put)

#define TIME_SCALE "0.001"

typedef struct Run {
        int status; /* exit code of dfusd-sim, i.e. of the command */
        char *out, *err;
        char *dir; /* --dump-dir */
} Run;

static void run_clear(Run *r) {
        g_free(r->out);
        g_free(r->err);
        if (r->dir) {
                g_autoptr(GDir) d = g_dir_open(r->dir, 0, NULL);
                const char *n;
                while (d && (n = g_dir_read_name(d))) {
                        g_autofree char *p = g_build_filename(r->dir, n, NULL);
                        (void)g_unlink(p);
                }
                (void)g_rmdir(r->dir);
                g_free(r->dir);
        }
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Run, run_clear);

static bool have_dfu_util(void) {
        g_autofree char *p = g_find_program_in_path("dfu-util");
        if (!p)
                test_skip("dfu-util is not installed: peer tests need it (apt install dfu-util)");
        return p != NULL;
}

/* dfusd-sim --time-scale <scale> --dump-dir <tmp> <sim_args> -- <command> */
static void run_sim_scaled(Run *r, const char *scale, const char *const *sim_args,
                           const char *const *command) {
        g_autoptr(GPtrArray) argv = g_ptr_array_new();
        g_autoptr(GError) error = NULL;
        int wait_status;

        r->dir = g_dir_make_tmp("peer-dump-XXXXXX", &error);
        g_assert_no_error(error);
        g_ptr_array_add(argv, (char *)DFUSD_SIM);
        g_ptr_array_add(argv, (char *)"--time-scale");
        g_ptr_array_add(argv, (char *)scale);
        g_ptr_array_add(argv, (char *)"--dump-dir");
        g_ptr_array_add(argv, r->dir);
        for (; *sim_args; sim_args++)
                g_ptr_array_add(argv, (char *)*sim_args);
        g_ptr_array_add(argv, (char *)"--");
        for (; *command; command++)
                g_ptr_array_add(argv, (char *)*command);
        g_ptr_array_add(argv, NULL);

        g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &r->out, &r->err,
                     &wait_status, &error);
        g_assert_no_error(error);
        if (!WIFEXITED(wait_status))
                g_error("dfusd-sim did not exit normally (signal %d)\nstdout:\n%s\nstderr:\n%s",
                        WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : 0, r->out, r->err);
        r->status = WEXITSTATUS(wait_status);
        if (g_test_verbose())
                g_printerr("exit %d\nstdout:\n%s\nstderr:\n%s\n", r->status, r->out, r->err);
}

static void run_sim(Run *r, const char *const *sim_args, const char *const *command) {
        run_sim_scaled(r, TIME_SCALE, sim_args, command);
}

static json_object *load_json(const Run *r, const char *port) {
        g_autofree char *p = g_strdup_printf("%s/%s.json", r->dir, port);
        json_object *o = json_object_from_file(p);
        g_assert_nonnull(o);
        return o;
}

static json_object *get(json_object *o, const char *path) {
        g_auto(GStrv) keys = g_strsplit(path, ".", -1);
        for (char **k = keys; *k; k++) {
                json_object *next = NULL;
                if (!json_object_object_get_ex(o, *k, &next))
                        g_error("no \"%s\" in the dump (looking for %s)", *k, path);
                o = next;
        }
        return o;
}

static uint64_t get_u(json_object *o, const char *path) {
        return (uint64_t)json_object_get_int64(get(o, path));
}

static GBytes *load_flash(const Run *r, const char *port) {
        g_autofree char *p = g_strdup_printf("%s/%s.bin", r->dir, port);
        g_autoptr(GError) error = NULL;
        g_autoptr(GMappedFile) f = g_mapped_file_new(p, FALSE, &error);
        g_assert_no_error(error);
        return g_mapped_file_get_bytes(f);
}

static bool all_ff(const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (p[i] != 0xFF)
                        return false;
        return true;
}

static char *write_image(const char *dir, const char *name, size_t size, GBytes **ret) {
        uint8_t *data = g_malloc(size);
        for (size_t i = 0; i < size; i++)
                data[i] = (uint8_t)g_test_rand_int();
        char *path = g_build_filename(dir, name, NULL);
        g_autoptr(GError) error = NULL;
        g_file_set_contents(path, (const char *)data, (gssize)size, &error);
        g_assert_no_error(error);
        *ret = g_bytes_new_take(data, size);
        return path;
}

/* The erase counters of every sector: 1 where listed (sector indexes), 0 elsewhere. */
static void assert_erased_exactly(json_object *dump, const unsigned *sectors, size_t n) {
        json_object *a = get(dump, "counters.erases_per_sector");
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                unsigned expected = 0;
                for (size_t k = 0; k < n; k++)
                        if (sectors[k] == i)
                                expected = 1;
                if ((unsigned)json_object_get_int(json_object_array_get_idx(a, i)) != expected)
                        g_error("sector %zu erased %d times, expected %u", i,
                                json_object_get_int(json_object_array_get_idx(a, i)), expected);
        }
}

static void test_list(void) {
        g_auto(Run) r = {};
        const PartInfo *p = part_find("f405");
        const char *const ports[] = {"1-1", "1-2", "1-3"};

        if (!have_dfu_util())
                return;
        run_sim(&r, (const char *const[]){"--boards", "3", "--part", "f405", NULL},
                (const char *const[]){"dfu-util", "-l", NULL});
        g_assert_cmpint(r.status, ==, 0);

        g_autoptr(GHashTable) serials = g_hash_table_new(g_str_hash, g_str_equal);
        for (unsigned i = 0; i < G_N_ELEMENTS(ports); i++) {
                g_autoptr(json_object) dump = load_json(&r, ports[i]);
                const char *serial = json_object_get_string(get(dump, "serial"));
                g_assert_false(g_hash_table_contains(serials, serial));
                g_hash_table_add(serials, (char *)serial);
                for (unsigned alt = 0; p->alt_strings[alt]; alt++) {
                        g_autofree char *line = g_strdup_printf("[0483:df11] ver=%04x, devnum=%u, cfg=1, "
                                                                "intf=0, path=\"%s\", alt=%u, name=\"%s\", "
                                                                "serial=\"%s\"",
                                                                p->bcd_device, i + 2, ports[i], alt,
                                                                p->alt_strings[alt], serial);
                        if (!strstr(r.out, line))
                                g_error("dfu-util -l did not list %s in:\n%s", line, r.out);
                }
        }
        /* 3 boards x 4 alternate settings, nothing more */
        unsigned found = 0;
        for (const char *s = r.out; (s = strstr(s, "Found DFU:")); s++)
                found++;
        g_assert_cmpuint(found, ==, 12);
}

static void test_flash_h743(void) {
        g_auto(Run) r = {};
        g_autoptr(GBytes) image = NULL;
        g_autofree char *tmp = g_dir_make_tmp("peer-img-XXXXXX", NULL);
        g_autofree char *path = write_image(tmp, "image.bin", 300000, &image);
        const unsigned touched[] = {0, 1, 2}; /* 300000 bytes over 128 KiB sectors */

        if (!have_dfu_util())
                return;
        run_sim(&r, (const char *const[]){"--part", "h743", NULL},
                (const char *const[]){"dfu-util", "-a", "0", "-s", "0x08000000:leave", "-D", path, NULL});
        g_assert_nonnull(strstr(r.out, "File downloaded successfully"));
        /* The H7 ROM resets instead of answering the status after a leave request: dfu-util says so. */
        g_assert_cmpint(r.status, ==, 74);
        g_assert_nonnull(strstr(r.err, "get_status"));

        g_autoptr(GBytes) flash = load_flash(&r, "1-1");
        g_autoptr(json_object) dump = load_json(&r, "1-1");
        g_assert_cmpuint(g_bytes_get_size(flash), ==, 2 * 1024 * 1024);
        g_assert_cmpmem(g_bytes_get_data(flash, NULL), 300000, g_bytes_get_data(image, NULL), 300000);
        g_assert_true(
                all_ff((const uint8_t *)g_bytes_get_data(flash, NULL) + 300000, 2 * 1024 * 1024 - 300000));
        assert_erased_exactly(dump, touched, G_N_ELEMENTS(touched));
        g_assert_cmpuint(get_u(dump, "counters.bytes_written"), ==, 300000);
        g_assert_cmpuint(get_u(dump, "counters.leave"), ==, 1);
        g_assert_cmpuint(get_u(dump, "counters.errors"), ==, 0);
        g_assert_cmpuint(get_u(dump, "counters.device_min_us"), >, 0);
        g_assert_false(json_object_get_boolean(get(dump, "plugged")));
        g_assert_cmpstr(json_object_get_string(get(dump, "part")), ==, "h743");

        g_autofree char *p = g_build_filename(tmp, "image.bin", NULL);
        (void)g_unlink(p);
        (void)g_rmdir(tmp);
}

/*
 * The L4 at datasheet speed: it asks for 21 ms after a 22 ms page erase and stalls the polls that come
 * too early after a DfuSe command, which dfu-util tolerates; polls after a block write are held back,
 * not stalled, as dfu-util expects (it tolerates no stall there).
 */
static void test_flash_l476_real_time(void) {
        g_auto(Run) r = {};
        g_autoptr(GBytes) image = NULL;
        g_autofree char *tmp = g_dir_make_tmp("peer-img-XXXXXX", NULL);
        g_autofree char *path = write_image(tmp, "image.bin", 5000, &image);
        const unsigned touched[] = {0, 1, 2}; /* 5000 bytes over 2 KiB pages */

        if (!have_dfu_util())
                return;
        run_sim_scaled(
                &r, "1.0", (const char *const[]){"--part", "l476", NULL},
                (const char *const[]){"dfu-util", "-a", "0", "-s", "0x08000000:leave", "-D", path, NULL});
        if (r.status != 0)
                g_error("dfu-util failed (%d):\n%s%s", r.status, r.out, r.err);
        g_assert_nonnull(strstr(r.out, "File downloaded successfully"));

        g_autoptr(GBytes) flash = load_flash(&r, "1-1");
        g_autoptr(json_object) dump = load_json(&r, "1-1");
        g_assert_cmpmem(g_bytes_get_data(flash, NULL), 5000, g_bytes_get_data(image, NULL), 5000);
        g_assert_true(all_ff((const uint8_t *)g_bytes_get_data(flash, NULL) + 5000,
                             g_bytes_get_size(flash) - 5000));
        assert_erased_exactly(dump, touched, G_N_ELEMENTS(touched));
        g_assert_cmpuint(get_u(dump, "counters.bytes_written"), ==, 5000);
        g_assert_cmpuint(get_u(dump, "counters.errors"), ==, 0);
        g_assert_cmpuint(get_u(dump, "counters.leave"), ==, 1);
        /* dfu-util takes three stalls per command at most; the board stalls no other poll. */
        g_assert_cmpuint(get_u(dump, "counters.stalls"), <=,
                         3 * (get_u(dump, "counters.erase") + get_u(dump, "counters.set_address")));

        g_autofree char *p = g_build_filename(tmp, "image.bin", NULL);
        (void)g_unlink(p);
        (void)g_rmdir(tmp);
}

static void test_flash_f405_mixed(void) {
        g_auto(Run) r = {};
        g_autoptr(GBytes) image = NULL;
        g_autofree char *tmp = g_dir_make_tmp("peer-img-XXXXXX", NULL);
        g_autofree char *path = write_image(tmp, "image.bin", 40000, &image);
        const unsigned touched[] = {0, 1, 2}; /* 40000 bytes over 16 KiB sectors */

        if (!have_dfu_util())
                return;
        /* Two boards of different parts; dfu-util picks the F405 by its path. */
        run_sim(&r, (const char *const[]){"--part", "g431", "--part", "f405", "--boards", "2", NULL},
                (const char *const[]){"dfu-util", "-p", "1-2", "-a", "0", "-s", "0x08000000", "-D", path,
                                      NULL});
        g_assert_cmpint(r.status, ==, 0);

        g_autoptr(GBytes) flash = load_flash(&r, "1-2");
        g_autoptr(json_object) dump = load_json(&r, "1-2");
        g_autoptr(json_object) other = load_json(&r, "1-1");
        g_assert_cmpstr(json_object_get_string(get(dump, "part")), ==, "f405");
        g_assert_cmpstr(json_object_get_string(get(other, "part")), ==, "g431");
        g_assert_cmpmem(g_bytes_get_data(flash, NULL), 40000, g_bytes_get_data(image, NULL), 40000);
        assert_erased_exactly(dump, touched, G_N_ELEMENTS(touched));
        assert_erased_exactly(other, NULL, 0);
        g_assert_cmpuint(get_u(other, "counters.bytes_written"), ==, 0);
        g_assert_true(json_object_get_boolean(get(dump, "plugged")));

        g_autofree char *p = g_build_filename(tmp, "image.bin", NULL);
        (void)g_unlink(p);
        (void)g_rmdir(tmp);
}

/* RAM at 0x38000000 is not in the map: dfu-util refuses, and when forced the ROM refuses the address. */
static void test_refuse_ram(void) {
        g_autoptr(GBytes) image = NULL;
        g_autofree char *tmp = g_dir_make_tmp("peer-img-XXXXXX", NULL);
        g_autofree char *path = write_image(tmp, "x.bin", 4096, &image);
        const char *const targets[] = {"0x38000000", "0x38000000:force"};

        if (!have_dfu_util())
                return;
        for (unsigned i = 0; i < G_N_ELEMENTS(targets); i++) {
                g_auto(Run) r = {};
                run_sim(&r, (const char *const[]){"--part", "h743", NULL},
                        (const char *const[]){"dfu-util", "-a", "0", "-s", targets[i], "-D", path, NULL});
                g_assert_cmpint(r.status, !=, 0);

                g_autoptr(GBytes) flash = load_flash(&r, "1-1");
                g_autoptr(json_object) dump = load_json(&r, "1-1");
                g_assert_true(all_ff(g_bytes_get_data(flash, NULL), g_bytes_get_size(flash)));
                g_assert_cmpuint(get_u(dump, "counters.bytes_written"), ==, 0);
                assert_erased_exactly(dump, NULL, 0);
                if (i == 1)
                        g_assert_cmpuint(get_u(dump, "counters.errors"), >=, 1);
        }
        g_autofree char *p = g_build_filename(tmp, "x.bin", NULL);
        (void)g_unlink(p);
        (void)g_rmdir(tmp);
}

static char *write_script(const char *text) {
        g_autoptr(GError) error = NULL;
        char *path = NULL;
        int fd = g_file_open_tmp("peer-script-XXXXXX", &path, &error);
        g_assert_no_error(error);
        close(fd);
        g_file_set_contents(path, text, -1, &error);
        g_assert_no_error(error);
        return path;
}

/* A shell function for the command: listed PATTERN CODE [gone] waits until dfu-util -l shows PATTERN
 * (with "gone": until it no longer does), and exits with CODE if that never happens. The bound of 300
 * looks only ends a hang. */
#define LIST_WAIT                                                                                     \
        "listed() { i=0; while :; do if dfu-util -l | grep -q \"$1\"; then [ -z \"$3\" ] && return; " \
        "elif [ -n \"$3\" ]; then return; fi; i=$((i+1)); [ $i -gt 300 ] && exit $2; sleep 0.1; done; }; "

/* A board plugged later on shows up for a client that looks again; one unplugged goes away. The steps
 * go through dfusd-sim's control FIFO once the client has seen the first rack, so no step depends on
 * timing. */
static void test_plug_later(void) {
        g_auto(Run) r = {};
        const char *const wait_cmd[] = {
                "sh", "-c",
                LIST_WAIT
                "first=$(dfu-util -l); echo \"$first\" | grep -q 'path=\"1-1\"' || exit 3; "
                "echo \"$first\" | grep -q 'path=\"1-9.2\"' && exit 4; "
                "echo 'plug 1-9.2 part=g431' > \"$DFUSD_SIM_CONTROL\"; "
                "echo 'unplug 1-1' > \"$DFUSD_SIM_CONTROL\"; "
                "listed 'path=\"1-9.2\", alt=0, name=\"@Internal Flash   /0x08000000/64\\*02Kg\"' 1; "
                "listed 'path=\"1-1\"' 2 gone",
                NULL};

        if (!have_dfu_util())
                return;
        run_sim(&r, (const char *const[]){"--part", "f405", NULL}, wait_cmd);
        g_assert_cmpint(r.status, ==, 0);
        g_autoptr(json_object) plugged = load_json(&r, "1-9.2");
        g_autoptr(json_object) left = load_json(&r, "1-1");
        g_assert_cmpstr(json_object_get_string(get(plugged, "part")), ==, "g431");
        g_assert_true(json_object_get_boolean(get(plugged, "plugged")));
        g_assert_false(json_object_get_boolean(get(left, "plugged")));
}

/* A fault from the script: the board drops off the bus in the middle of the download. */
static void test_unplug_fault(void) {
        g_auto(Run) r = {};
        g_autoptr(GBytes) image = NULL;
        g_autofree char *tmp = g_dir_make_tmp("peer-img-XXXXXX", NULL);
        g_autofree char *path = write_image(tmp, "image.bin", 65536, &image);
        g_autofree char *script = write_script("board 1-1 unplug phase=write after=10\n");

        if (!have_dfu_util())
                return;
        run_sim(&r, (const char *const[]){"--script", script, "--part", "f405", NULL},
                (const char *const[]){"dfu-util", "-a", "0", "-s", "0x08000000", "-D", path, NULL});
        g_assert_cmpint(r.status, !=, 0);
        g_autoptr(json_object) dump = load_json(&r, "1-1");
        g_assert_false(json_object_get_boolean(get(dump, "plugged")));
        g_assert_cmpuint(get_u(dump, "counters.bytes_written"), <, 65536);
        (void)g_unlink(script);
        g_autofree char *p = g_build_filename(tmp, "image.bin", NULL);
        (void)g_unlink(p);
        (void)g_rmdir(tmp);
}

/* A board pulled and plugged back enumerates again, under the next device number: it is plugged back
 * only once the client has seen it gone. */
static void test_replug(void) {
        g_auto(Run) r = {};
        const char *const wait_cmd[] = {
                "sh", "-c",
                LIST_WAIT "listed 'devnum=3, cfg=1, intf=0, path=\"1-2\"' 3; "
                          "echo 'unplug 1-2' > \"$DFUSD_SIM_CONTROL\"; listed 'path=\"1-2\"' 2 gone; "
                          "echo 'plug 1-2' > \"$DFUSD_SIM_CONTROL\"; "
                          "listed 'devnum=4, cfg=1, intf=0, path=\"1-2\"' 1",
                NULL};

        if (!have_dfu_util())
                return;
        run_sim(&r, (const char *const[]){"--boards", "2", "--part", "h743", NULL}, wait_cmd);
        g_assert_cmpint(r.status, ==, 0);
        g_autoptr(json_object) dump = load_json(&r, "1-2");
        g_assert_cmpuint(get_u(dump, "enumerations"), ==, 2);
        g_assert_true(json_object_get_boolean(get(dump, "plugged")));
}

/* Stalls and error statuses armed by the script reach dfu-util as the real ones would. */
static void test_faults(void) {
        g_autoptr(GBytes) image = NULL;
        g_autofree char *tmp = g_dir_make_tmp("peer-img-XXXXXX", NULL);
        g_autofree char *path = write_image(tmp, "image.bin", 8192, &image);
        const struct {
                const char *script, *says;
        } cases[] = {
                {"board 1-1 stall count=2 phase=write after=0\n", "LIBUSB_ERROR_PIPE"},
                {"board 1-1 status errVERIFY phase=write after=1\n",
                 "Programmed memory failed verification"},
                {"board 1-1 status errERASE phase=erase\n", "Memory erase function failed"},
        };

        if (!have_dfu_util())
                return;
        for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_auto(Run) r = {};
                g_autofree char *script = write_script(cases[i].script);
                run_sim(&r, (const char *const[]){"--script", script, "--part", "f405", NULL},
                        (const char *const[]){"dfu-util", "-a", "0", "-s", "0x08000000", "-D", path, NULL});
                g_assert_cmpint(r.status, !=, 0);
                if (!strstr(r.err, cases[i].says) && !strstr(r.out, cases[i].says))
                        g_error("\"%s\" did not make dfu-util say \"%s\":\n%s%s", cases[i].script,
                                cases[i].says, r.out, r.err);
                g_autoptr(json_object) dump = load_json(&r, "1-1");
                g_assert_cmpuint(get_u(dump, "counters.bytes_written"), <, 8192);
                (void)g_unlink(script);
        }
        g_autofree char *p = g_build_filename(tmp, "image.bin", NULL);
        (void)g_unlink(p);
        (void)g_rmdir(tmp);
}

/*
 * Read unprotection erases everything and resets: the board leaves and enumerates again, under the
 * next device number.
 */
static void test_unprotect_resets(void) {
        g_auto(Run) r = {};
        g_autoptr(GBytes) image = NULL;
        g_autofree char *tmp = g_dir_make_tmp("peer-img-XXXXXX", NULL);
        g_autofree char *path = write_image(tmp, "x.bin", 2048, &image);
        g_autofree char *cmd = g_strdup_printf(
                "dfu-util -a 0 -s 0x08000000:unprotect:force -D %s; i=0; "
                "until dfu-util -l | grep -q 'devnum=3, cfg=1, intf=0, path=\"1-1\", alt=0'; do "
                "i=$((i+1)); [ $i -gt 200 ] && exit 1; "
                "sleep 0.1; done",
                path);

        if (!have_dfu_util())
                return;
        run_sim(&r, (const char *const[]){"--protected", "--part", "f405", NULL},
                (const char *const[]){"sh", "-c", cmd, NULL});
        g_assert_cmpint(r.status, ==, 0);
        g_assert_nonnull(strstr(r.out, "resets now"));
        g_autoptr(json_object) dump = load_json(&r, "1-1");
        g_assert_cmpuint(get_u(dump, "enumerations"), ==, 2);
        g_assert_true(json_object_get_boolean(get(dump, "plugged")));
        g_autofree char *p = g_build_filename(tmp, "x.bin", NULL);
        (void)g_unlink(p);
        (void)g_rmdir(tmp);
}

static char *write_block(const char *dir, const char *name, const uint8_t *b, size_t n) {
        char *path = g_build_filename(dir, name, NULL);
        g_autoptr(GError) error = NULL;
        g_file_set_contents(path, (const char *)b, (gssize)n, &error);
        g_assert_no_error(error);
        return path;
}

/*
 * dfu-util's raw option-byte write (":will-reset") of the block dfusd computes for "bor_lev=1" on an F405:
 * the board resets and reads back exactly that block. Then the block with RDP level 1: the board comes
 * back read-protected (dfu-util's upload of the flash fails), and dfu-util's ":unprotect:force" regresses
 * it: the option bytes read RDP level 0 again.
 */
static void test_option_bytes_raw(void) {
        const OptionBytesFamily *f = option_bytes_family_find("f405");
        OptionBytesChange c[OPTION_BYTES_CHANGES_MAX];
        uint8_t want[OPTION_BYTES_MAX], locked[OPTION_BYTES_MAX];
        DfuError e = DFU_ERROR_INIT;
        g_auto(Run) r = {};
        size_t n;
        g_autofree char *tmp = g_dir_make_tmp("peer-ob-XXXXXX", NULL);

        if (!have_dfu_util())
                return;
        option_bytes_reset_block(f, want);
        g_assert_cmpint(option_bytes_parse_changes(f, "bor_lev=1", false, c, &n, &e), ==, 0);
        option_bytes_apply(c, n, want);
        memcpy(locked, want, sizeof(locked));
        option_bytes_field_set(option_bytes_field_find(f, "rdp"), locked, 0xBB);
        g_free(write_block(tmp, "ob.bin", want, f->size));
        g_free(write_block(tmp, "lock.bin", locked, f->size));
        /* A board that has just enumerated may not open at the first try on a busy machine: retry. */
        // clang-format off
        static const char script[] =
                "retry() { for k in 1 2 3 4 5 6 7 8 9 10; do rm -f \"$1\"; dfu-util -a 1 -s 0x1FFFC000:16 -U \"$1\" && return 0; sleep 0.2; done; return 1; }\n"
                "waitdev() { i=0; until dfu-util -l | grep -q \"devnum=$1, cfg=1, intf=0, path=\\\"1-1\\\", alt=0\"; do i=$((i+1)); [ $i -gt 200 ] && return 1; sleep 0.1; done; }\n"
                "set -e\n"
                "dfu-util -a 1 -s 0x1FFFC000:will-reset -D ob.bin\n"
                "waitdev 3\n"
                "retry back.bin\n"
                "dfu-util -a 1 -s 0x1FFFC000:will-reset -D lock.bin\n"
                "waitdev 4\n"
                "if dfu-util -a 0 -s 0x08000000:64 -U flash.bin; then exit 2; fi\n"
                "dfu-util -a 0 -s 0x08000000:unprotect:force -D ob.bin || true\n"
                "waitdev 5\n"
                "retry after.bin\n";
        // clang-format on
        g_autofree char *cmd = g_strdup_printf("cd %s && %s", tmp, script);
        run_sim(&r, (const char *const[]){"--part", "f405", NULL},
                (const char *const[]){"sh", "-c", cmd, NULL});
        g_assert_cmpint(r.status, ==, 0);

        g_autofree char *back_path = g_build_filename(tmp, "back.bin", NULL),
                        *after_path = g_build_filename(tmp, "after.bin", NULL);
        g_autofree char *back = NULL, *after = NULL;
        gsize back_n = 0, after_n = 0;
        g_assert_true(g_file_get_contents(back_path, &back, &back_n, NULL));
        g_assert_cmpmem(back, back_n, want, f->size);
        g_assert_true(g_file_get_contents(after_path, &after, &after_n, NULL));
        g_assert_cmpuint(after_n, ==, f->size);
        g_assert_cmpuint(option_bytes_rdp_level(f, (const uint8_t *)after), ==, 0);
        g_assert_cmpint(option_bytes_check(f, (const uint8_t *)after, &e), ==, 0);
        g_autofree char *rm = g_strdup_printf("rm -rf '%s'", tmp);
        g_assert_cmpint(system(rm), ==, 0);
}

static void test_dump_only(void) {
        g_auto(Run) r = {};

        run_sim(&r, (const char *const[]){"--ports", "1-3,1-9.1", "--part", "u585", NULL},
                (const char *const[]){"sh", "-c", "test \"$DFUSD_SIM_PORTS\" = 1-3,1-9.1 && exit 7", NULL});
        g_assert_cmpint(r.status, ==, 7); /* the command's own status */
        for (unsigned i = 0; i < 2; i++) {
                const char *port = i == 0 ? "1-3" : "1-9.1";
                g_autoptr(json_object) dump = load_json(&r, port);
                g_autoptr(GBytes) flash = load_flash(&r, port);
                g_assert_cmpstr(json_object_get_string(get(dump, "port")), ==, port);
                g_assert_cmpuint(get_u(dump, "flash_size"), ==, g_bytes_get_size(flash));
                g_assert_cmpuint(get_u(dump, "flash_base"), ==, 0x08000000);
                g_assert_cmpuint(get_u(dump, "counters.requests"), ==, 0);
                g_assert_true(all_ff(g_bytes_get_data(flash, NULL), g_bytes_get_size(flash)));
        }
}

static void test_bad_script(void) {
        g_auto(Run) r = {};
        g_autofree char *script = write_script("at 1 plug 1-2\n\nboard 1-1 stall phase=sometimes\n");

        run_sim(&r, (const char *const[]){"--script", script, NULL}, (const char *const[]){"true", NULL});
        g_assert_cmpint(r.status, ==, 125);
        g_autofree char *where = g_strdup_printf("%s:3: expected phase=any|erase|write|read|leave", script);
        g_assert_nonnull(strstr(r.err, where));
        (void)g_unlink(script);
}

/*
 * A uevent listener that closes between dfusd-sim's connect and its send (a client exiting as its
 * board leaves) must not take the rack down: the send counts as delivered and the dead listener's
 * path goes. A refused send to a path that is no listener's stays an error.
 */
static void test_dead_listener(void) {
        g_auto(Run) r = {};

        run_sim(&r, (const char *const[]){NULL},
                (const char *const[]){"python3", "-c",
                                      "import os, socket\n"
                                      "def refused_send(path):\n"
                                      "    l = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
                                      "    l.bind(path)\n"
                                      "    c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
                                      "    c.connect(path)\n"
                                      "    l.close()\n"
                                      "    return c.sendmsg([b'remove@/devices/usb1/1-1', b'\\0'])\n"
                                      "d = os.environ['UMOCKDEV_DIR']\n"
                                      "assert refused_send(d + '/event98-1') == 25\n"
                                      "assert not os.path.exists(d + '/event98-1')\n"
                                      "try:\n"
                                      "    refused_send(d + '/other')\n"
                                      "    raise SystemExit('a refused send to another socket succeeded')\n"
                                      "except ConnectionRefusedError:\n"
                                      "    pass\n",
                                      NULL});
        if (r.status != 0)
                g_printerr("%s", r.err);
        g_assert_cmpint(r.status, ==, 0);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/peer/dfu-util/list", test_list);
        g_test_add_func("/peer/dfu-util/option-bytes-raw", test_option_bytes_raw);
        g_test_add_func("/peer/dfu-util/flash-h743", test_flash_h743);
        g_test_add_func("/peer/dfu-util/flash-l476-real-time", test_flash_l476_real_time);
        g_test_add_func("/peer/dfu-util/flash-f405-mixed-rack", test_flash_f405_mixed);
        g_test_add_func("/peer/dfu-util/refuse-ram", test_refuse_ram);
        g_test_add_func("/peer/dfu-util/plug-later", test_plug_later);
        g_test_add_func("/peer/dfu-util/unplug-fault", test_unplug_fault);
        g_test_add_func("/peer/dfu-util/replug", test_replug);
        g_test_add_func("/peer/dfu-util/faults", test_faults);
        g_test_add_func("/peer/dfu-util/unprotect-resets", test_unprotect_resets);
        g_test_add_func("/peer/runner/dump", test_dump_only);
        g_test_add_func("/peer/runner/bad-script", test_bad_script);
        g_test_add_func("/peer/runner/dead-listener", test_dead_listener);
        return test_run();
}
