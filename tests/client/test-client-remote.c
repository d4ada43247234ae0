/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dfusctl -H root@127.0.0.1:PORT through a real sshd on loopback, started by the test with its own
 * host key, configuration, port and a fresh client key. On the "remote" side sshd runs
 * systemd-stdio-bridge onto the test's private bus, where dfusd serves simulated boards, or, for
 * commands that carry files, the dfusctl under test through the remote shell, with the same bus as
 * its system bus.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "test-main.h"

#define SSHD "/usr/sbin/sshd"

static const char *const h743[] = {"h743", NULL};

typedef struct Remote {
        GSubprocess *sshd;
        char *host;    /* root@127.0.0.1:PORT */
        char *bin_dir; /* holds the ssh wrapper that uses the test's client configuration */
} Remote;

/* Why sshd cannot run here, or NULL when it can. */
static const char *sshd_unavailable(void) {
        g_autofree char *ssh = g_find_program_in_path("ssh"), *keygen = g_find_program_in_path("ssh-keygen");
        g_autofree char *bridge = g_find_program_in_path("systemd-stdio-bridge");

        if (!g_file_test(SSHD, G_FILE_TEST_IS_EXECUTABLE))
                return SSHD " is not installed";
        if (!ssh || !keygen)
                return "the ssh client is not installed";
        if (!bridge)
                return "systemd-stdio-bridge is not installed";
        if (geteuid() != 0)
                return "logging in as root@127.0.0.1 needs sshd running as root";
        /* sshd's privilege separation directory; missing where sshd never ran. */
        if (g_mkdir_with_parents("/run/sshd", 0755) < 0)
                return "/run/sshd cannot be created";
        return NULL;
}

static uint16_t free_port(void) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(bind(fd, (struct sockaddr *)&a, sizeof a), ==, 0);
        g_assert_cmpint(getsockname(fd, (struct sockaddr *)&a, &len), ==, 0);
        close(fd);
        return ntohs(a.sin_port);
}

static bool port_open(uint16_t port) {
        struct sockaddr_in a = {
                .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;

        close(fd);
        return ok;
}

static void keygen(const char *path) {
        g_autoptr(GError) error = NULL;
        int status;

        g_assert_true(g_spawn_sync(
                NULL, (char *[]){"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", (char *)path, NULL},
                NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status, &error));
        g_assert_no_error(error);
        g_assert_cmpint(status, ==, 0);
}

static char *write_in(Integ *t, const char *name, const char *text) {
        return integ_write_file(t, name, text, strlen(text));
}

/* What sshd runs for every login: the bridge onto the test's bus, or the command the client asked
 * for (dfusctl --images-from-stdin ...) through the shell, with the dfusctl under test first in PATH
 * and the test's bus as the system bus. */
static char *remote_command(Integ *t) {
        g_autofree char *dir = g_build_filename(t->dir, "remote-bin", NULL);
        g_autofree char *dfusctl = g_build_filename(dir, "dfusctl", NULL);
        g_autofree char *script = NULL;

        g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
        g_assert_cmpint(symlink(ctl_path(), dfusctl), ==, 0);
        script = g_strdup_printf("#!/bin/sh\n"
                                 "case \"$SSH_ORIGINAL_COMMAND\" in\n"
                                 "systemd-stdio-bridge*) exec systemd-stdio-bridge '--bus-path=%s' ;;\n"
                                 "esac\n"
                                 "DBUS_SYSTEM_BUS_ADDRESS='%s' PATH='%s':\"$PATH\"\n"
                                 "export DBUS_SYSTEM_BUS_ADDRESS PATH\n"
                                 "exec sh -c \"$SSH_ORIGINAL_COMMAND\"\n",
                                 t->bus_address, t->bus_address, dir);
        return integ_write_file(t, "remote-command", script, strlen(script));
}

static void remote_start(Integ *t, Remote *r) {
        g_autofree char *host_key = g_build_filename(t->dir, "ssh_host_key", NULL);
        g_autofree char *user_key = g_build_filename(t->dir, "id_test", NULL);
        g_autofree char *user_pub = g_strconcat(user_key, ".pub", NULL);
        g_autofree char *pub = NULL, *sshd_config = NULL, *ssh_config = NULL, *conf_path = NULL;
        g_autofree char *client_path = NULL, *keys_path = NULL, *pid_path = NULL, *log = NULL,
                        *wrapper = NULL;
        g_autofree char *wrapper_path = NULL, *ssh = g_find_program_in_path("ssh");
        g_autofree char *command = remote_command(t);
        g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDERR_MERGE);
        g_autoptr(GError) error = NULL;
        uint16_t port = free_port();

        keygen(host_key);
        keygen(user_key);
        g_assert_true(g_file_get_contents(user_pub, &pub, NULL, NULL));
        keys_path = write_in(t, "authorized_keys", pub);
        pid_path = g_build_filename(t->dir, "sshd.pid", NULL);
        sshd_config = g_strdup_printf("ListenAddress 127.0.0.1:%u\n"
                                      "HostKey %s\n"
                                      "PidFile %s\n"
                                      "AuthorizedKeysFile %s\n"
                                      "PermitRootLogin prohibit-password\n"
                                      "PasswordAuthentication no\n"
                                      "KbdInteractiveAuthentication no\n"
                                      "UsePAM no\n"
                                      "StrictModes no\n"
                                      /* The test's private bus stands in for the remote system bus. */
                                      "ForceCommand %s\n",
                                      port, host_key, pid_path, keys_path, command);
        g_assert_cmpint(chmod(command, 0755), ==, 0);
        conf_path = write_in(t, "sshd_config", sshd_config);
        ssh_config = g_strdup_printf("Host *\n"
                                     "  IdentityFile %s\n"
                                     "  IdentitiesOnly yes\n"
                                     "  UserKnownHostsFile /dev/null\n"
                                     "  StrictHostKeyChecking no\n"
                                     "  BatchMode yes\n"
                                     "  LogLevel ERROR\n",
                                     user_key);
        client_path = write_in(t, "ssh_config", ssh_config);
        /* sd-bus runs "ssh" from PATH; this one reads the test's client configuration. */
        r->bin_dir = g_build_filename(t->dir, "bin", NULL);
        g_assert_cmpint(g_mkdir_with_parents(r->bin_dir, 0755), ==, 0);
        wrapper = g_strdup_printf("#!/bin/sh\nexec %s -F %s \"$@\"\n", ssh, client_path);
        wrapper_path = g_build_filename(r->bin_dir, "ssh", NULL);
        g_assert_true(g_file_set_contents(wrapper_path, wrapper, -1, NULL));
        g_assert_cmpint(chmod(wrapper_path, 0755), ==, 0);

        log = g_build_filename(t->dir, "sshd.log", NULL);
        g_subprocess_launcher_set_stdout_file_path(l, log);
        r->sshd = g_subprocess_launcher_spawn(l, &error, SSHD, "-D", "-e", "-f", conf_path, NULL);
        g_assert_no_error(error);
        for (unsigned i = 0; !port_open(port); i++) {
                /* only bounds an sshd that never listens */
                if (i > 6000 || !g_subprocess_get_identifier(r->sshd)) {
                        g_autofree char *text = NULL;
                        g_file_get_contents(log, &text, NULL, NULL);
                        g_error("sshd did not listen on port %u: %s", port, text);
                }
                g_usleep(10 * 1000);
        }
        r->host = g_strdup_printf("root@127.0.0.1:%u", port);
}

static void remote_stop(Remote *r) {
        if (r->sshd) {
                g_subprocess_send_signal(r->sshd, SIGTERM);
                g_subprocess_wait(r->sshd, NULL, NULL);
        }
        g_clear_object(&r->sshd);
        g_free(r->host);
        g_free(r->bin_dir);
}

static int run_remote_stdin(Integ *t, Remote *remote, GBytes *in, CtlResult *r, const char *const *args) {
        g_auto(GStrv) env = ctl_environ(t);
        g_autofree char *path = g_strconcat(remote->bin_dir, ":", g_getenv("PATH") ?: "/usr/bin:/bin", NULL);

        env = g_environ_setenv(env, "PATH", path, TRUE);
        /* Nothing local to fall back to: only the ssh connection reaches dfusd. */
        env = g_environ_unsetenv(env, "DBUS_SESSION_BUS_ADDRESS");
        env = g_environ_unsetenv(env, "DBUS_SYSTEM_BUS_ADDRESS");
        return ctl_runv_stdin(t, env, in, r, args);
}

static int run_remote(Integ *t, Remote *remote, CtlResult *r, const char *const *args) {
        return run_remote_stdin(t, remote, NULL, r, args);
}

/* dfusd with two boards (and config as its dfusd.conf) and sshd in front of its bus; false when the
 * test is skipped. */
static bool remote_setup(Integ *t, Remote *remote, const char *config) {
        const char *why = sshd_unavailable();

        if (why) {
                test_skip(why);
                return false;
        }
        integ_start(t, &(IntegRun){.boards = 2, .parts = h743, .config = config});
        integ_wait_devices(t, 2, 10);
        remote_start(t, remote);
        return true;
}

static void test_remote(Integ *t, gconstpointer data) {
        g_autofree char *image = ctl_image(t, "app.hex", 4096, false, 21);
        g_autoptr(json_object) doc = NULL;
        g_auto(CtlResult) r = {};
        Remote remote = {};

        if (!remote_setup(t, &remote, NULL))
                return;

        g_assert_cmpint(run_remote(t, &remote, &r,
                                   (const char *const[]){"-H", remote.host, "devices", "--json", NULL}),
                        ==, 0);
        doc = ctl_json(&r);
        g_assert_cmpuint(json_object_array_length(jget(doc, "devices")), ==, 2);
        ctl_result_clear(&r);

        g_assert_cmpint(
                run_remote(t, &remote, &r, (const char *const[]){"--host", remote.host, "devices", NULL}),
                ==, 0);
        g_assert_nonnull(strstr(r.out, "1-2"));
        ctl_result_clear(&r);

        /* A job that ended, submitted locally (images cannot travel over ssh): only --all lists it. */
        g_autoptr(GError) error = NULL;
        g_autofree char *job =
                integ_submit(t, (const char *[]){image, NULL},
                             integ_options("port", g_variant_new_string("1-2"), NULL), &error);
        g_assert_no_error(error);
        g_autofree char *state = integ_wait_job(t, job, 60);
        g_assert_cmpstr(state, ==, "done");
        g_assert_cmpint(
                run_remote(t, &remote, &r,
                           (const char *const[]){"-H", remote.host, "jobs", "--all", "--json", NULL}),
                ==, 0);
        g_clear_pointer(&doc, json_object_put);
        doc = ctl_json(&r);
        json_object *jobs = jget(doc, "jobs");
        g_assert_cmpuint(json_object_array_length(jobs), ==, 1);
        json_object *j = json_object_array_get_idx(jobs, 0);
        g_assert_cmpuint(json_object_get_uint64(jget(j, "Id")), ==, 1);
        g_assert_cmpstr(jstr(j, "PortPath"), ==, "1-2");
        g_assert_cmpstr(jstr(j, "State"), ==, "done");
        g_assert_cmpstr(jstr(j, "Error"), ==, "");
        ctl_result_clear(&r);
        g_assert_cmpint(run_remote(t, &remote, &r, (const char *const[]){"-H", remote.host, "jobs", NULL}),
                        ==, 0);
        g_assert_cmpstr(r.out, ==, "No jobs.\n");
        ctl_result_clear(&r);

        /* With dfusd gone, the remote bus answers that nobody owns the name. */
        integ_stop(t);
        g_assert_cmpint(
                run_remote(t, &remote, &r, (const char *const[]){"-H", remote.host, "devices", NULL}), ==,
                6);
        ctl_result_clear(&r);

        /* Nobody listening on the port: unreachable too. */
        remote_stop(&remote);
        remote = (Remote){.bin_dir = g_build_filename(t->dir, "bin", NULL)};
        g_assert_cmpint(
                run_remote(t, &remote, &r, (const char *const[]){"-H", "root@127.0.0.1:1", "devices", NULL}),
                ==, 6);
        g_free(remote.bin_dir);
}

#define FLASH_BASE 0x08000000u
#define IMAGE_SIZE 4096
/* Spaces, both quotes and a dollar sign: each must reach the remote dfusctl as it was. */
#define ODD "line 3 'a' \"b\" $HOME"

static GBytes *file_bytes(const char *path) {
        g_autofree char *text = NULL;
        gsize len;

        g_assert_true(g_file_get_contents(path, &text, &len, NULL));
        return g_bytes_new_take(g_steal_pointer(&text), len);
}

/* inspect --device, rule add and sequence add --list through ssh, with their --json. */
static void remote_verbs(Integ *t, Remote *remote, const char *image) {
        g_autofree char *list = integ_write_file(t, "serials list.txt", "# batch 7\nA-001\nA-002\n", 22);
        g_autoptr(json_object) doc = NULL;
        g_auto(CtlResult) r = {};

        g_assert_cmpint(run_remote(t, remote, &r,
                                   (const char *const[]){"-H", remote->host, "inspect", "--device", "1-2",
                                                         image, "--json", NULL}),
                        ==, 0);
        doc = ctl_json(&r);
        g_assert_true(json_object_get_boolean(jget(doc, "accepted")));
        g_assert_cmpstr(jstr(doc, "port"), ==, "1-2");
        g_clear_pointer(&doc, json_object_put);
        ctl_result_clear(&r);

        g_assert_cmpint(run_remote(t, remote, &r,
                                   (const char *const[]){"-H", remote->host, "--json", "rule", "add",
                                                         "--match", "station=" ODD, image, NULL}),
                        ==, 0);
        doc = ctl_json(&r);
        g_assert_nonnull(
                strstr(json_object_to_json_string(jget(doc, "Match")), "line 3 'a' \\\"b\\\" $HOME"));
        g_clear_pointer(&doc, json_object_put);
        ctl_result_clear(&r);

        g_assert_cmpint(run_remote(t, remote, &r,
                                   (const char *const[]){"-H", remote->host, "sequence", "add", "serials",
                                                         "--list", list, "--json", NULL}),
                        ==, 0);
        doc = ctl_json(&r);
        g_assert_cmpstr(jstr(doc, "Kind"), ==, "list");
        g_assert_cmpuint(json_object_get_uint64(jget(doc, "Left")), ==, 2);
}

/* The remote side alone, as ssh would start it, with a stream cut inside the image's bytes. */
static void remote_truncated(Integ *t, Remote *remote) {
        static const uint8_t head[] = {'D', 'F', 'U', 'S', 'C', 'T', 'L', '\n', 1,   0,   0,
                                       0,   1,   0,   0,   0,   0,   16,  0,    0,   0,   0,
                                       0,   0,   7,   0,   'a', 'p', 'p', '.',  'h', 'e', 'x'};
        g_autoptr(GByteArray) a = g_byte_array_new();
        g_autoptr(GBytes) in = NULL;
        g_auto(CtlResult) r = {};

        g_byte_array_append(a, head, sizeof head);
        for (unsigned i = 0; i < 1024; i++)
                g_byte_array_append(a, (const uint8_t *)"x", 1);
        in = g_byte_array_free_to_bytes(g_steal_pointer(&a));
        g_assert_cmpint(run_remote_stdin(t, remote, in, &r,
                                         (const char *const[]){"--images-from-stdin", "flash", "--port",
                                                               "1-2", "app.hex", NULL}),
                        ==, 8);
        g_assert_nonnull(strstr(r.err, "file 1 of 1 (app.hex): stream ended after 1024 of 4096 bytes"));
}

static void test_remote_images(Integ *t, gconstpointer data) {
        g_autofree char *image = ctl_image(t, "app.hex", IMAGE_SIZE, false, 21);
        g_autofree char *odd = ctl_image(t, ODD ".hex", IMAGE_SIZE, false, 22);
        g_autofree char *piped = ctl_image(t, "piped.hex", IMAGE_SIZE, false, 23);
        g_autofree uint8_t *expect_odd = integ_pattern(IMAGE_SIZE, 22),
                           *expect_piped = integ_pattern(IMAGE_SIZE, 23);
        g_autoptr(GBytes) dump = NULL, piped_bytes = file_bytes(piped);
        g_autoptr(json_object) doc = NULL;
        g_auto(CtlResult) r = {};
        Remote remote = {};

        if (!remote_setup(t, &remote, NULL))
                return;
        remote_verbs(t, &remote, image);

        /* A file that is not there is told here, before ssh runs: port 1 has no sshd. */
        g_assert_cmpint(
                run_remote(t, &remote, &r,
                           (const char *const[]){"-H", "root@127.0.0.1:1", "flash", "nothere.hex", NULL}),
                ==, 3);
        g_assert_nonnull(strstr(r.err, "nothere.hex"));
        ctl_result_clear(&r);
        /* ssh itself failing (nothing listens on port 1) is told as a document too with --json */
        g_assert_cmpint(
                run_remote(t, &remote, &r,
                           (const char *const[]){"-H", "root@127.0.0.1:1", "flash", "--json", image, NULL}),
                ==, 6);
        doc = ctl_json(&r);
        g_assert_cmpstr(jstr(doc, "error"), ==, "ssh");
        g_assert_nonnull(strstr(jstr(doc, "message"), "Could not run dfusctl on root@127.0.0.1:1 over ssh"));
        g_assert_cmpint(json_object_get_int(jget(doc, "exit_status")), ==, 6);
        g_clear_pointer(&doc, json_object_put);
        ctl_result_clear(&r);
        remote_truncated(t, &remote);

        /* The flash's JSON and exit status come back through ssh; the name's quotes survive. */
        g_assert_cmpint(run_remote(t, &remote, &r,
                                   (const char *const[]){"-H", remote.host, "flash", "--port", "1-1", odd,
                                                         "--json", NULL}),
                        ==, 0);
        doc = ctl_json(&r);
        g_assert_cmpstr(jstr(json_object_array_get_idx(jget(doc, "jobs"), 0), "State"), ==, "done");
        ctl_result_clear(&r);
        /* Standard input is read here and sent like a file; text progress comes back. */
        g_assert_cmpint(run_remote_stdin(t, &remote, piped_bytes, &r,
                                         (const char *const[]){"-H", remote.host, "flash", "--port", "1-2",
                                                               "-", NULL}),
                        ==, 0);
        g_assert_nonnull(strstr(r.out, "1-2: done"));

        integ_stop(t);
        dump = integ_dump(t, "1-1");
        integ_assert_flash(dump, FLASH_BASE, FLASH_BASE, expect_odd, IMAGE_SIZE);
        g_clear_pointer(&dump, g_bytes_unref);
        dump = integ_dump(t, "1-2");
        integ_assert_flash(dump, FLASH_BASE, FLASH_BASE, expect_piped, IMAGE_SIZE);
        remote_stop(&remote);
}

/* Signatures travel with their images: IMAGE.sig found beside the image here, and --signature=FILE
 * (the path inside an option's own argument). Two files of one base name cannot both travel. */
static void test_remote_signed(Integ *t, gconstpointer data) {
        g_autofree char *app = ctl_image(t, "app.hex", IMAGE_SIZE, false, 31);
        g_autofree char *other = ctl_image(t, "other.hex", IMAGE_SIZE, false, 32);
        g_autofree char *key = g_build_filename(t->dir, "line", NULL), *pem = g_strconcat(key, ".pem", NULL);
        g_autofree char *keys = g_build_filename(t->dir, "keys.d", NULL);
        g_autofree char *pub = g_strconcat(key, ".pub.pem", NULL), *pub_text = NULL;
        g_autofree char *wrong = g_strconcat(other, ".sig", NULL),
                        *wrong_arg = g_strconcat("--signature=", wrong, NULL);
        g_autofree char *conf = g_strdup_printf("[Trust]\nMode=signed\nKeyDirectory=%s\n", keys);
        g_autofree char *twin_dir = g_build_filename(t->dir, "twin", NULL);
        g_autofree char *twin = g_build_filename(twin_dir, "app.hex", NULL), *kept = NULL;
        g_auto(CtlResult) r = {};
        Remote remote = {};

        if (!remote_setup(t, &remote, conf))
                return;
        g_assert_cmpint(ctl_run(t, &r, "keygen", key, NULL), ==, 0);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "sign", "--key", pem, app, other, NULL), ==, 0);
        ctl_result_clear(&r);
        g_assert_true(g_file_get_contents(pub, &pub_text, NULL, NULL));
        g_assert_cmpint(g_mkdir_with_parents(keys, 0755), ==, 0);
        kept = g_build_filename(keys, "line.pub.pem", NULL);
        g_assert_true(g_file_set_contents(kept, pub_text, -1, NULL));

        g_assert_cmpint(run_remote(t, &remote, &r,
                                   (const char *const[]){"-H", remote.host, "flash", "--no-leave", "--port",
                                                         "1-1", app, NULL}),
                        ==, 0);
        ctl_result_clear(&r);
        g_assert_cmpint(run_remote(t, &remote, &r,
                                   (const char *const[]){"-H", remote.host, "flash", "--no-leave", "--port",
                                                         "1-1", wrong_arg, app, NULL}),
                        ==, 1);
        g_assert_nonnull(strstr(r.err, "bad signature"));
        ctl_result_clear(&r);

        g_assert_cmpint(g_mkdir_with_parents(twin_dir, 0755), ==, 0);
        g_assert_true(g_file_set_contents(twin, "", 0, NULL));
        g_assert_cmpint(run_remote(t, &remote, &r,
                                   (const char *const[]){"-H", remote.host, "flash", app, twin, NULL}),
                        ==, 3);
        g_assert_nonnull(strstr(r.err, "another one is called app.hex too"));
        remote_stop(&remote);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/client/remote", Integ, NULL, integ_setup, test_remote, integ_teardown);
        g_test_add("/client/remote/images", Integ, NULL, integ_setup, test_remote_images, integ_teardown);
        g_test_add("/client/remote/signed", Integ, NULL, integ_setup, test_remote_signed, integ_teardown);
        return test_run();
}
