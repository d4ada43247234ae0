/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <json-c/json.h>
#include <string.h>

#include "image/image.h"
#include "test-main.h"
#include <glib.h>
#include <glib/gstdio.h>

/* `dfusctl inspect` end to end: the real binary on the committed dual-core fixture. */

typedef struct Result {
        int status;
        char *out, *err;
} Result;

static void result_clear(Result *r) {
        g_free(r->out);
        g_free(r->err);
}

static char *fixture(const char *name) {
        return g_build_filename(g_getenv("FIXTURES"), "dualcore", name, NULL);
}

/* Runs dfusctl with the NULL-terminated arguments; NO_COLOR keeps escapes out whatever stdout is. */
static Result dfusctl(const char *first, ...) {
        g_autoptr(GPtrArray) argv = g_ptr_array_new();
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) env = g_environ_setenv(g_get_environ(), "NO_COLOR", "1", TRUE);
        Result r = {};
        va_list ap;

        g_ptr_array_add(argv, (char *)g_getenv("DFUSCTL"));
        va_start(ap, first);
        for (const char *a = first; a; a = va_arg(ap, const char *))
                g_ptr_array_add(argv, (char *)a);
        va_end(ap);
        g_ptr_array_add(argv, NULL);

        g_assert_true(g_spawn_sync(NULL, (char **)argv->pdata, env, G_SPAWN_DEFAULT, NULL, NULL, &r.out,
                                   &r.err, &r.status, &error));
        g_assert_no_error(error);
        r.status = WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1;
        g_test_message("exit %d\nstdout:\n%s\nstderr:\n%s", r.status, r.out, r.err);
        return r;
}

static json_object *parse_json(const char *s) {
        json_object *o = json_tokener_parse(s);
        g_assert_nonnull(o);
        return o;
}

static json_object *get(json_object *o, const char *key) {
        json_object *v = NULL;
        if (!json_object_object_get_ex(o, key, &v))
                g_error("no key \"%s\"", key);
        return v;
}

static void test_text(void) {
        g_autofree char *cm7 = fixture("cm7.hex"), *cm4 = fixture("cm4.hex");
        Result r = dfusctl("inspect", "--family", "h747", cm7, cm4, NULL);

        g_assert_cmpint(r.status, ==, 0);
        g_assert_nonnull(strstr(r.out, "VERDICT"));
        g_assert_true(g_regex_match_simple("^keep +0x08000000 ", r.out, G_REGEX_MULTILINE, 0));
        g_assert_true(g_regex_match_simple("^keep +0x08100000 ", r.out, G_REGEX_MULTILINE, 0));
        g_assert_true(g_regex_match_simple("^drop +0x2001FF00 +0x2001FF03 ", r.out, G_REGEX_MULTILINE, 0));
        g_assert_true(g_regex_match_simple("^drop +0x38000000 +0x3800000F +16 B +RAM \\(SRAM4\\) ", r.out,
                                           G_REGEX_MULTILINE, 0));
        g_assert_nonnull(strstr(r.out, "SRAM4"));
        g_assert_nonnull(strstr(r.out, "NOLOAD"));
        g_assert_true(g_regex_match_simple("^erase +0x08000000 +128 KiB", r.out, G_REGEX_MULTILINE, 0));
        g_assert_true(g_regex_match_simple("^erase +0x08100000 +128 KiB", r.out, G_REGEX_MULTILINE, 0));
        g_assert_true(g_regex_match_simple("^write +0x08000000 ", r.out, G_REGEX_MULTILINE, 0));
        g_assert_nonnull(strstr(r.out, "estimate"));
        g_assert_null(strchr(r.out, '\033'));
        result_clear(&r);

        r = dfusctl("--no-legend", "inspect", cm7, "--family=h747", NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_null(strstr(r.out, "VERDICT"));
        g_assert_null(strstr(r.out, "Total"));
        result_clear(&r);
}

static void test_json(void) {
        g_autofree char *cm7 = fixture("cm7.hex"), *cm4 = fixture("cm4.hex");
        Result r = dfusctl("inspect", "--json", "--family", "h747", cm7, cm4, NULL);
        g_assert_cmpint(r.status, ==, 0);
        json_object *doc = parse_json(r.out);

        g_assert_true(json_object_get_boolean(get(doc, "accepted")));
        g_assert_cmpstr(json_object_get_string(get(doc, "part")), ==, "h747");
        g_assert_cmpint(json_object_get_int(get(doc, "bytes_dropped")), ==, 20);
        g_assert_true(json_object_is_type(get(doc, "reject_reason"), json_type_null));
        json_object *segs = get(doc, "segments");
        g_assert_cmpuint(json_object_array_length(segs), ==, 4);
        const char *verdicts[] = {"keep", "keep", "drop", "drop"};
        const int64_t addresses[] = {0x08000000, 0x08100000, 0x2001FF00, 0x38000000};
        for (size_t i = 0; i < 4; i++) {
                json_object *s = json_object_array_get_idx(segs, i);
                g_assert_cmpstr(json_object_get_string(get(s, "verdict")), ==, verdicts[i]);
                g_assert_cmpint(json_object_get_int64(get(s, "address")), ==, addresses[i]);
                g_assert_nonnull(get(s, "reason"));
                g_assert_nonnull(json_object_get_string(get(s, "source")));
        }
        g_assert_cmpstr(json_object_get_string(get(json_object_array_get_idx(segs, 3), "kind")), ==, "RAM");
        json_object *plans = get(doc, "plans");
        g_assert_cmpuint(json_object_array_length(plans), ==, 1);
        json_object *p = json_object_array_get_idx(plans, 0);
        g_assert_cmpint(json_object_get_int(get(p, "alt_setting")), ==, 0);
        g_assert_cmpint(json_object_get_int(get(p, "transfer_size")), ==, 2048);
        g_assert_cmpint(json_object_get_int(get(p, "flash_word")), ==, 32);
        g_assert_cmpuint(json_object_array_length(get(p, "erases")), ==, 2);
        g_assert_cmpuint(json_object_array_length(get(p, "runs")), ==, 2);
        g_assert_cmpint(json_object_get_int64(get(p, "estimate_ms")), >, 0);
        /* The CM7's vector table, which holds the image's entry point. */
        g_assert_cmpint(json_object_get_int64(get(p, "leave_address")), ==, 0x08000000);
        json_object_put(doc);
        result_clear(&r);

        r = dfusctl("inspect", "--json", "--strict", "--family", "h747", cm7, NULL);
        g_assert_cmpint(r.status, ==, 1);
        doc = parse_json(r.out);
        g_assert_false(json_object_get_boolean(get(doc, "accepted")));
        g_assert_nonnull(strstr(json_object_get_string(get(doc, "reject_reason")), "0x2001FF00"));
        g_assert_cmpuint(json_object_array_length(get(doc, "plans")), ==, 0);
        json_object_put(doc);
        result_clear(&r);
}

static void test_formats(void) {
        /* The same CM7 image as ELF, S-record and DfuSe gives the same verdicts. */
        const char *names[] = {"cm7.elf", "cm7.srec", "cm7.dfu"};
        for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
                g_autofree char *path = fixture(names[i]);
                Result r = dfusctl("inspect", "--json", "--family", "h747", path, NULL);
                g_assert_cmpint(r.status, ==, 0);
                json_object *doc = parse_json(r.out);
                g_assert_cmpint(json_object_get_int(get(doc, "bytes_kept")), ==, 240);
                g_assert_cmpint(json_object_get_int(get(doc, "bytes_dropped")), ==, 20);
                json_object_put(doc);
                result_clear(&r);
        }
}

static void test_usage_and_errors(void) {
        g_autofree char *cm7 = fixture("cm7.hex");
        Result r = dfusctl("inspect", cm7, NULL);
        g_assert_cmpint(r.status, ==, 2);
        g_assert_nonnull(strstr(r.err, "--family"));
        g_assert_nonnull(strstr(r.err, "h743"));
        result_clear(&r);

        r = dfusctl("inspect", "--family", "z999", cm7, NULL);
        g_assert_cmpint(r.status, ==, 2);
        result_clear(&r);

        r = dfusctl("inspect", "--family", "h743", NULL);
        g_assert_cmpint(r.status, ==, 2);
        result_clear(&r);

        r = dfusctl("inspect", "--layout", "@Flash/0x08000000/4*16Kz", cm7, NULL);
        g_assert_cmpint(r.status, ==, 2);
        g_assert_nonnull(strstr(r.err, "column 24"));
        result_clear(&r);

        r = dfusctl("inspect", "--family", "h743", "--export", "/tmp/x.txt", cm7, NULL);
        g_assert_cmpint(r.status, ==, 2);
        result_clear(&r);

        r = dfusctl("inspect", "--family", "h743", "/nonexistent/fw.hex", NULL);
        g_assert_cmpint(r.status, ==, 3);
        g_assert_nonnull(strstr(r.err, "/nonexistent/fw.hex"));
        result_clear(&r);

        g_autofree char *dir = g_dir_make_tmp("dfusd-inspect-XXXXXX", NULL);
        g_autofree char *bad = g_build_filename(dir, "bad.hex", NULL);
        g_assert_true(g_file_set_contents(bad, ":10000000FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00\n", -1, NULL));
        r = dfusctl("inspect", "--family", "h743", bad, NULL);
        g_assert_cmpint(r.status, ==, 3);
        g_assert_nonnull(strstr(r.err, "bad.hex"));
        result_clear(&r);
        g_unlink(bad);
        g_rmdir(dir);

        r = dfusctl("--help", NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_nonnull(strstr(r.out, "inspect"));
        g_assert_nonnull(strstr(r.out, "Exit status"));
        result_clear(&r);

        r = dfusctl(NULL);
        g_assert_cmpint(r.status, ==, 2);
        result_clear(&r);
        r = dfusctl("frobnicate", NULL);
        g_assert_cmpint(r.status, ==, 2);
        g_assert_nonnull(strstr(r.err, "frobnicate"));
        result_clear(&r);
        r = dfusctl("--version", NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_true(g_str_has_prefix(r.out, "dfusctl "));
        result_clear(&r);
        /* Global options stand anywhere: before the verb, between its options, after the images. */
        r = dfusctl("--json", "--no-legend", "inspect", "--family", "h747", cm7, NULL);
        g_assert_cmpint(r.status, ==, 0);
        json_object_put(parse_json(r.out));
        result_clear(&r);
        r = dfusctl("inspect", "--family", "h747", cm7, "--json", NULL);
        g_assert_cmpint(r.status, ==, 0);
        json_object_put(parse_json(r.out));
        result_clear(&r);

        r = dfusctl("inspect", "--help", NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_nonnull(strstr(r.out, "bytes_kept"));
        result_clear(&r);
}

/* --patch offline: where each lands, the bytes the plan then writes, and the refusals. */
static void test_patches(void) {
        g_autofree char *dir = g_dir_make_tmp("dfusd-inspect-XXXXXX", NULL);
        g_autofree char *bin = g_build_filename(dir, "fw.bin", NULL);
        uint8_t data[512];
        json_object *doc, *patches;

        memset(data, 0x5A, sizeof(data));
        g_assert_true(g_file_set_contents(bin, (const char *)data, sizeof(data), NULL));

        Result r = dfusctl("inspect", "--json", "--family", "f405", "--base", "0x08000000", "--patch",
                           "0x08000010:u32le:serial", "--patch", "0x08003FF0:str:16:names", bin, NULL);
        g_assert_cmpint(r.status, ==, 0);
        doc = parse_json(r.out);
        patches = get(doc, "patches");
        g_assert_cmpuint(json_object_array_length(patches), ==, 2);
        g_assert_cmpstr(json_object_get_string(get(json_object_array_get_idx(patches, 0), "place")), ==,
                        "in the image");
        g_assert_cmpstr(json_object_get_string(get(json_object_array_get_idx(patches, 1), "place")), ==,
                        "in erased flash of a sector the image erases");
        /* The plan writes the patch's 16 bytes too. */
        g_assert_cmpint(
                json_object_get_int64(get(json_object_array_get_idx(get(doc, "plans"), 0), "bytes_total")),
                ==, 512 + 16);
        json_object_put(doc);
        result_clear(&r);

        /* A sector the image does not touch only with --patch-erase; RAM and overlaps never. */
        r = dfusctl("inspect", "--family", "f405", "--base", "0x08000000", "--patch", "0x08004000:u32le:s",
                    bin, NULL);
        g_assert_cmpint(r.status, ==, 1);
        g_assert_nonnull(strstr(r.out, "--patch-erase"));
        result_clear(&r);
        r = dfusctl("inspect", "--family", "f405", "--base", "0x08000000", "--patch", "0x08004000:u32le:s",
                    "--patch-erase", bin, NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_nonnull(strstr(r.out, "in a sector erased for the patch"));
        result_clear(&r);
        r = dfusctl("inspect", "--family", "f405", "--base", "0x08000000", "--patch", "0x20000000:u32le:s",
                    bin, NULL);
        g_assert_cmpint(r.status, ==, 1);
        g_assert_nonnull(strstr(r.out, "RAM"));
        result_clear(&r);
        r = dfusctl("inspect", "--family", "f405", "--base", "0x08000000", "--patch", "0x08000010:u64le:a",
                    "--patch", "0x08000014:u32le:b", bin, NULL);
        g_assert_cmpint(r.status, ==, 1);
        g_assert_nonnull(strstr(r.out, "overlaps"));
        result_clear(&r);
        r = dfusctl("inspect", "--family", "f405", "--base", "0x08000000", "--patch", "0x08000010:dec:x",
                    bin, NULL);
        g_assert_cmpint(r.status, ==, 2);
        result_clear(&r);
        (void)unlink(bin);
        (void)rmdir(dir);
}

static void test_rejects(void) {
        g_autofree char *dir = g_dir_make_tmp("dfusd-inspect-XXXXXX", NULL);
        g_autofree char *bin = g_build_filename(dir, "fw.bin", NULL);
        uint8_t data[512];

        memset(data, 0x5A, sizeof(data));
        g_assert_true(g_file_set_contents(bin, (const char *)data, sizeof(data), NULL));

        /* Across the end of the H743's flash. */
        Result r = dfusctl("inspect", "--family", "h743", "--base", "0x081FFF00", bin, NULL);
        g_assert_cmpint(r.status, ==, 1);
        g_assert_nonnull(strstr(r.out, "straddles"));
        result_clear(&r);

        /* Only RAM: nothing left to write. */
        r = dfusctl("inspect", "--family", "h743", "--base", "0x24000000", bin, NULL);
        g_assert_cmpint(r.status, ==, 1);
        g_assert_nonnull(strstr(r.out, "nothing left to write"));
        result_clear(&r);

        /* Option bytes only with the option; then a plan for alt 1. */
        g_assert_true(g_file_set_contents(bin, (const char *)data, 16, NULL));
        r = dfusctl("inspect", "--family", "f405", "--base", "0x1FFFC000", bin, NULL);
        g_assert_cmpint(r.status, ==, 1);
        g_assert_nonnull(strstr(r.out, "--allow-option-bytes"));
        result_clear(&r);
        r = dfusctl("inspect", "--json", "--family", "f405", "--allow-option-bytes", "--base", "0x1FFFC000",
                    bin, NULL);
        g_assert_cmpint(r.status, ==, 0);
        json_object *doc = parse_json(r.out);
        json_object *p = json_object_array_get_idx(get(doc, "plans"), 0);
        g_assert_cmpint(json_object_get_int(get(p, "alt_setting")), ==, 1);
        g_assert_cmpuint(json_object_array_length(get(p, "erases")), ==, 0);
        json_object_put(doc);
        result_clear(&r);

        /* --layout per alternate setting instead of a family; --mass-erase. */
        g_assert_true(g_file_set_contents(bin, (const char *)data, sizeof(data), NULL));
        r = dfusctl("inspect", "--json", "--mass-erase", "--layout",
                    "@Internal Flash  /0x08000000/064*0002Kg", "--layout",
                    "@Option Bytes  /0x1FFFF800/01*016 e", "--base", "0x08000000", bin, NULL);
        g_assert_cmpint(r.status, ==, 0);
        doc = parse_json(r.out);
        p = json_object_array_get_idx(get(doc, "plans"), 0);
        g_assert_true(json_object_get_boolean(get(p, "mass_erase")));
        g_assert_true(json_object_is_type(get(p, "estimate_ms"), json_type_null));
        g_assert_true(json_object_is_type(get(doc, "part"), json_type_null));
        json_object_put(doc);
        result_clear(&r);

        g_unlink(bin);
        g_rmdir(dir);
}

static void assert_same_bytes(const char *a, const char *b) {
        g_autofree char *da = NULL, *db = NULL;
        gsize la, lb;
        g_assert_true(g_file_get_contents(a, &da, &la, NULL));
        g_assert_true(g_file_get_contents(b, &db, &lb, NULL));
        g_assert_cmpmem(da, la, db, lb);
}

static void test_export(void) {
        g_autofree char *dir = g_dir_make_tmp("dfusd-inspect-XXXXXX", NULL);
        g_autofree char *elf = fixture("cm7.elf"), *hex = fixture("cm7.hex"), *cm4 = fixture("cm4.hex");
        g_autofree char *expected = fixture("cm7-flash-only.bin");
        g_autofree char *bin = g_build_filename(dir, "kept.bin", NULL);
        g_autofree char *khex = g_build_filename(dir, "kept.hex", NULL);
        g_autofree char *kdfu = g_build_filename(dir, "kept.dfu", NULL);
        g_autofree char *kbin2 = g_build_filename(dir, "again.bin", NULL);
        g_autofree char *odd = g_build_filename(dir, "kept.out", NULL);

        Result r = dfusctl("inspect", "--family", "h747", "--export", bin, elf, NULL);
        g_assert_cmpint(r.status, ==, 0);
        result_clear(&r);
        assert_same_bytes(bin, expected);

        /* hex -> kept.hex -> kept.dfu -> binary: the bytes survive every writer and reader. */
        r = dfusctl("inspect", "--family", "h747", "--export", khex, hex, NULL);
        g_assert_cmpint(r.status, ==, 0);
        result_clear(&r);
        r = dfusctl("inspect", "--json", "--family", "h747", "--export", kdfu, khex, NULL);
        g_assert_cmpint(r.status, ==, 0);
        json_object *doc = parse_json(r.out);
        g_assert_cmpint(json_object_get_int(get(doc, "bytes_dropped")), ==, 0);
        g_assert_cmpint(json_object_get_int(get(doc, "bytes_kept")), ==, 240);
        json_object_put(doc);
        result_clear(&r);
        r = dfusctl("inspect", "--family", "h747", "--export", odd, "--export-format", "binary", kdfu, NULL);
        g_assert_cmpint(r.status, ==, 0);
        result_clear(&r);
        assert_same_bytes(odd, expected);

        /* A rejected image exports nothing. */
        r = dfusctl("inspect", "--strict", "--family", "h747", "--export", kbin2, hex, cm4, NULL);
        g_assert_cmpint(r.status, ==, 1);
        g_assert_false(g_file_test(kbin2, G_FILE_TEST_EXISTS));
        result_clear(&r);

        const char *files[] = {bin, khex, kdfu, odd};
        for (size_t i = 0; i < G_N_ELEMENTS(files); i++)
                g_unlink(files[i]);
        g_rmdir(dir);
}

/* Colour on a terminal only, and never with NO_COLOR: run under script(1) for a pseudo-terminal. */
static char *run_on_tty(const char *no_color) {
        g_autofree char *script = g_find_program_in_path("script");
        g_autofree char *cm7 = fixture("cm7.hex");
        g_autofree char *qd = g_shell_quote(g_getenv("DFUSCTL")), *qf = g_shell_quote(cm7);
        g_autofree char *cmd = g_strdup_printf("%s inspect --family h747 %s", qd, qf);
        g_auto(GStrv) env = g_environ_setenv(g_get_environ(), "TERM", "xterm", TRUE);
        g_autoptr(GError) error = NULL;
        char *out = NULL;
        int status;

        env = no_color ? g_environ_setenv(env, "NO_COLOR", no_color, TRUE)
                       : g_environ_unsetenv(env, "NO_COLOR");
        char *argv[] = {script, "-qec", cmd, "/dev/null", NULL};
        g_assert_true(g_spawn_sync(NULL, argv, env, G_SPAWN_STDIN_FROM_DEV_NULL, NULL, NULL, &out, NULL,
                                   &status, &error));
        g_assert_no_error(error);
        g_assert_true(g_spawn_check_wait_status(status, NULL));
        return out;
}

/* Option bytes by name, offline: the fields before and after, and the bytes; refusals exit 1. */
static void test_option_bytes(void) {
        Result r = dfusctl("inspect", "--family", "f405", "--option-bytes", "bor_lev=1", NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_nonnull(strstr(r.out, "bor_lev     off      1      changed"));
        g_assert_nonnull(strstr(r.out, "1fffc000  ef aa 10 55"));
        g_assert_nonnull(strstr(r.out, "1fffc000  eb aa 14 55"));
        result_clear(&r);

        r = dfusctl("--json", "inspect", "--family", "h743", "--option-bytes", "bor_lev=2,wrpsn=0xfe", NULL);
        g_assert_cmpint(r.status, ==, 0);
        json_object *doc = parse_json(r.out);
        g_assert_cmpstr(json_object_get_string(get(doc, "family")), ==, "h7");
        g_assert_cmpint(json_object_get_int64(get(doc, "address")), ==, 0x5200201C);
        g_assert_cmpuint(strlen(json_object_get_string(get(doc, "after"))), ==, 256);
        json_object_put(doc);
        result_clear(&r);

        static const char *const bad[][2] = {
                {"f405", "bor_lev=9"}, {"f405", "nope=1"},     {"l476", "bor_lev=5"},
                {"g431", "rdp=2"},     {"f722", "nwrp=0x100"},
        };
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                r = dfusctl("inspect", "--family", bad[i][0], "--option-bytes", bad[i][1], NULL);
                g_assert_cmpint(r.status, ==, 1);
                result_clear(&r);
        }
        r = dfusctl("inspect", "--family", "g431", "--option-bytes", "rdp=2", "--allow-permanent-lock",
                    NULL);
        g_assert_cmpint(r.status, ==, 0);
        result_clear(&r);
        r = dfusctl("inspect", "--family", "f072", "--option-bytes", "rdp=1", NULL);
        g_assert_cmpint(r.status, ==, 2);
        result_clear(&r);
        r = dfusctl("inspect", "--option-bytes", "rdp=1", NULL);
        g_assert_cmpint(r.status, ==, 2);
        result_clear(&r);
}

static void test_color(void) {
        g_autofree char *script = g_find_program_in_path("script");

        if (!script) {
                test_skip("script(1) is not installed (package util-linux)");
                return;
        }
        g_autofree char *colored = run_on_tty(NULL), *plain = run_on_tty("1"), *empty = run_on_tty("");
        g_assert_nonnull(strstr(colored, "\033[0;32mkeep"));
        g_assert_nonnull(strstr(colored, "\033[0;33mdrop"));
        g_assert_nonnull(strstr(plain, "keep"));
        g_assert_null(strchr(plain, '\033'));
        /* An empty NO_COLOR does not count (no-color.org). */
        g_assert_nonnull(strchr(empty, '\033'));
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        if (!g_getenv("DFUSCTL") || !g_getenv("FIXTURES")) {
                g_printerr("DFUSCTL and FIXTURES must be set (ctest sets them)\n");
                return 1;
        }
        g_test_add_func("/inspect/text", test_text);
        g_test_add_func("/inspect/json", test_json);
        g_test_add_func("/inspect/formats", test_formats);
        g_test_add_func("/inspect/usage-and-errors", test_usage_and_errors);
        g_test_add_func("/inspect/rejects", test_rejects);
        g_test_add_func("/inspect/patches", test_patches);
        g_test_add_func("/inspect/export", test_export);
        g_test_add_func("/inspect/color", test_color);
        g_test_add_func("/inspect/option-bytes", test_option_bytes);
        return test_run();
}
