/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifdef DFUSCTL_HAVE_BUS

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus.h"
#include "exit-codes.h"
#include "output.h"
#include "parse-util.h"
#include "remote.h"

/* Nothing listens where the bus should be: its daemon is not running (or not installed). */
static bool errno_means_no_bus(int e) {
        return e == ENOENT || e == ECONNREFUSED || e == ENOTCONN || e == ENXIO;
}

/* Says which bus is missing and where it was looked for, in words that lead to the fix. */
static void log_no_bus(const DfusctlContext *args) {
        const char *address;

        if (args->user) {
                address = getenv("DBUS_SESSION_BUS_ADDRESS");
                fprintf(stderr,
                        "dfusctl: the session D-Bus is not running (nothing listens at %s): run dfusctl "
                        "--user in the session of the user that runs \"dfusd --user\", or start a session "
                        "bus with dbus-run-session.\n",
                        address ?: "$XDG_RUNTIME_DIR/bus");
                return;
        }
        address = getenv("DBUS_SYSTEM_BUS_ADDRESS");
        fprintf(stderr,
                "dfusctl: the system D-Bus is not running (nothing listens at %s): dfusctl reaches dfusd "
                "through it. Start it with \"systemctl start dbus\" (package dbus), or use --user for a "
                "dfusd on the session bus.\n",
                address ?: "unix:path=/run/dbus/system_bus_socket");
}

int bus_connect(const DfusctlContext *args, sd_bus **ret) {
        sd_bus *bus = NULL;
        const char *which;
        int r;

        if (args->host) {
                which = "remote system bus";
                r = sd_bus_open_system_remote(&bus, args->host);
        } else if (args->user) {
                which = "session bus";
                r = sd_bus_open_user(&bus);
        } else {
                which = "system bus";
                r = sd_bus_open_system(&bus);
        }
        if (r < 0) {
                fprintf(stderr, "dfusctl: Failed to connect to the %s%s%s: %s\n", which,
                        args->host ? " of " : "", args->host ?: "", strerror(-r));
                if (args->host)
                        fprintf(stderr,
                                "dfusctl: -H runs \"ssh %s systemd-stdio-bridge\"; check that it works.\n",
                                args->host);
                else if (errno_means_no_bus(-r))
                        log_no_bus(args);
                return EXIT_NO_DAEMON;
        }
        /* Flashing a large image may keep the daemon reading for a while before it replies. */
        (void)sd_bus_set_method_call_timeout(bus, 120 * 1000000ULL);
        *ret = bus;
        return EXIT_ACCEPTED;
}

/* Only a bus over ssh (-H, systemd-stdio-bridge) cannot carry descriptors, and -H never gets here
 * with files: still, say so rather than have the call fail. */
static int check_fd_passing(sd_bus *bus) {
        if (sd_bus_can_send(bus, SD_BUS_TYPE_UNIX_FD) > 0)
                return EXIT_ACCEPTED;
        fprintf(stderr, "dfusctl: Files travel to dfusd as file descriptors, which this connection cannot "
                        "carry.\n");
        return EXIT_USAGE;
}

int bus_connect_inputs(const DfusctlContext *ctx, sd_bus **ret) {
        int r;

        *ret = NULL;
        if (ctx->host)
                return remote_run(ctx);
        r = bus_connect(ctx, ret);
        if (r == EXIT_ACCEPTED)
                r = check_fd_passing(*ret);
        return r;
}

/* The bus knows dfusd but could not start it: dbus-daemon's own spawning, or systemd's unit. */
static bool error_means_activation_failed(const sd_bus_error *error) {
        return sd_bus_error_is_set(error) && error->name &&
               (strncmp(error->name, "org.freedesktop.DBus.Error.Spawn.", 33) == 0 ||
                strncmp(error->name, "org.freedesktop.systemd1.", 25) == 0);
}

static bool error_means_not_running(const sd_bus_error *error, int r) {
        int e;

        if (sd_bus_error_has_names(error, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER) ||
            error_means_activation_failed(error))
                return true;
        /* The connection itself failed (no bus socket, or the ssh bridge died): sd-bus reports the
         * errno, either bare or as a System.Error.* name. */
        e = sd_bus_error_is_set(error) ? sd_bus_error_get_errno(error) : -r;
        if (sd_bus_error_is_set(error) && strncmp(error->name, "System.Error.", 13) != 0)
                return false;
        return e == ECONNREFUSED || e == ENOENT || e == ECONNRESET || e == ENOTCONN || e == EPIPE ||
               e == EHOSTUNREACH;
}

int bus_error_exit_status(const sd_bus_error *error, int r) {
        static const struct {
                const char *name;
                int status;
        } map[] = {
                {"org.dfusd.Flash1.Error.ImageRejected", EXIT_REJECTED},
                {"org.dfusd.Flash1.Error.NoDevice", EXIT_NO_BOARD},
                {"org.dfusd.Flash1.Error.Cancelled", EXIT_CANCELLED},
                {"org.dfusd.Flash1.Error.Failed", EXIT_BOARD_FAILED},
                {"org.dfusd.Flash1.Error.Busy", EXIT_BOARD_FAILED},
                /* The command line named a job or rule that does not exist. */
                {"org.dfusd.Flash1.Error.NotFound", EXIT_USAGE},
                {SD_BUS_ERROR_UNKNOWN_OBJECT, EXIT_USAGE},
                {SD_BUS_ERROR_INVALID_ARGS, EXIT_USAGE},
        };

        if (error_means_not_running(error, r))
                return EXIT_NO_DAEMON;
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (sd_bus_error_has_name(error, map[i].name))
                        return map[i].status;
        return EXIT_IO;
}

int bus_log_error(const DfusctlContext *args, const char *what, const sd_bus_error *error, int r) {
        return bus_log_error_status(args, what, error, r, bus_error_exit_status(error, r));
}

int bus_log_error_status(const DfusctlContext *args, const char *what, const sd_bus_error *error, int r,
                         int status) {
        const char *message = sd_bus_error_is_set(error) && error->message ? error->message : strerror(-r);

        if (sd_bus_error_is_set(error))
                fprintf(stderr, "dfusctl: Failed to %s: %s (%s)\n", what, message, error->name);
        else
                fprintf(stderr, "dfusctl: Failed to %s: %s\n", what, message);

        if (status == EXIT_NO_DAEMON && args->host &&
            !sd_bus_error_has_names(error, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER)) {
                _cleanup_free_ char *ssh = remote_ssh_command(args->host, "systemd-stdio-bridge");

                fprintf(stderr, "dfusctl: Could not reach the system bus of %s; check that \"%s\" works.\n",
                        args->host, ssh ?: "ssh HOST systemd-stdio-bridge");
        } else if (status == EXIT_NO_DAEMON) {
                if (args->user && !args->host)
                        fprintf(stderr, "dfusctl: dfusd is not running on the session bus; start it with "
                                        "\"dfusd --user\".\n");
                else if (!args->host && sd_bus_error_has_name(error, SD_BUS_ERROR_SERVICE_UNKNOWN))
                        /* On the system bus dfusd is started on demand: a name the bus cannot
                         * start is a name no installed service file provides. */
                        fprintf(stderr, "dfusctl: dfusd is not installed or not activatable: see dfusd(8). "
                                        "The system bus has no service file for " DFUSD_BUS_NAME ".\n");
                else if (!args->host && error_means_activation_failed(error))
                        fprintf(stderr, "dfusctl: dfusd is installed but could not be started: see "
                                        "\"journalctl -u dfusd\" and dfusd(8).\n");
                else
                        fprintf(stderr,
                                "dfusctl: dfusd is not running%s%s; start it with "
                                "\"systemctl start dfusd\" (it also starts when a bootloader is "
                                "plugged in).\n",
                                args->host ? " on " : "", args->host ?: "");
        }

        if (args->json)
                (void)output_json_error(sd_bus_error_is_set(error) ? error->name : "errno", message, status,
                                        stdout);
        return status;
}

int bus_get_all(sd_bus *bus, const char *path, const char *iface, sd_bus_error *error, json_object **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_call_method(bus, DFUSD_BUS_NAME, path, "org.freedesktop.DBus.Properties", "GetAll", error,
                               &reply, "s", iface);
        if (r < 0)
                return r;
        return bus_message_read_json(reply, ret);
}

int bus_get_managed_objects(sd_bus *bus, sd_bus_error *error, json_object **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_call_method(bus, DFUSD_BUS_NAME, DFUSD_PATH, "org.freedesktop.DBus.ObjectManager",
                               "GetManagedObjects", error, &reply, NULL);
        if (r < 0)
                return r;
        return bus_message_read_json(reply, ret);
}

static bool parse_id(const char *s, uint64_t *ret) {
        return strspn(s, "0123456789") == strlen(s) && parse_uint64(s, 10, UINT64_MAX, ret) >= 0;
}

int bus_object_path_from_arg(const char *prefix, const char *arg, char **ret) {
        char *p;

        if (arg[0] == '/') {
                if (!sd_bus_object_path_is_valid(arg) || strncmp(arg, prefix, strlen(prefix)) != 0)
                        return -EINVAL;
                p = strdup(arg);
        } else {
                _cleanup_free_ char *base = strndup(prefix, strlen(prefix) - 1);
                int r;

                if (arg[0] == '\0' || strspn(arg, "0123456789") != strlen(arg))
                        return -EINVAL;
                if (!base)
                        return -ENOMEM;
                /* The daemon names its objects as sd_bus_path_encode() does ("7" becomes "_37"). */
                r = sd_bus_path_encode(base, arg, &p);
                if (r < 0)
                        return r;
        }
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

static int compare_paths(const void *a, const void *b) {
        json_object *const *x = a, *const *y = b;

        return strverscmp(json_get_str(*x, "path", ""), json_get_str(*y, "path", ""));
}

json_object *managed_objects_filter(json_object *objects, const char *iface) {
        json_object *array = json_object_new_array();

        if (!array || !json_object_is_type(objects, json_type_object))
                return array;
        json_object_object_foreach(objects, path, ifaces) {
                json_object *props;

                if (!json_object_object_get_ex(ifaces, iface, &props))
                        continue;
                props = json_object_get(props);
                json_object_object_add(props, "path", json_object_new_string(path));
                json_object_array_add(array, props);
        }
        json_object_array_sort(array, compare_paths);
        return array;
}

int bus_resolve_id(sd_bus *bus, const char *iface, const char *arg, char **path) {
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(json_object_putp) json_object *objects = NULL, *list = NULL;
        uint64_t id;

        if (arg[0] == '/' || !parse_id(arg, &id))
                return 0;
        /* Escaped or not, the daemon's own name for the object is the one to show and use. */
        if (bus_get_managed_objects(bus, &error, &objects) < 0)
                return 0;
        list = managed_objects_filter(objects, iface);
        for (size_t i = 0; list && i < json_object_array_length(list); i++) {
                json_object *o = json_object_array_get_idx(list, i);
                char *p;

                if (json_get_u64(o, "Id") != id)
                        continue;
                p = strdup(json_get_str(o, "path", ""));
                if (!p)
                        return -ENOMEM;
                free(*path);
                *path = p;
                return 1;
        }
        return 0;
}

int bus_list_objects(const DfusctlContext *ctx, const char *iface, const char *what, json_object **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(json_object_putp) json_object *objects = NULL;
        int r;

        r = bus_connect(ctx, &bus);
        if (r != EXIT_ACCEPTED)
                return r;
        r = bus_get_managed_objects(bus, &error, &objects);
        if (r < 0)
                return bus_log_error(ctx, what, &error, r);
        *ret = managed_objects_filter(objects, iface);
        return *ret ? EXIT_ACCEPTED : EXIT_IO;
}

int bus_connect_object(const DfusctlContext *ctx, const char *iface, const char *arg, char **path,
                       sd_bus **ret) {
        int r;

        r = bus_connect(ctx, ret);
        if (r != EXIT_ACCEPTED)
                return r;
        (void)bus_resolve_id(*ret, iface, arg, path);
        return EXIT_ACCEPTED;
}

int bus_call_object_method(const DfusctlContext *ctx, const char *iface, const char *arg, char **path,
                           const char *method, const char *what, const char *done_key,
                           const char *nothing_to_do) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = bus_connect_object(ctx, iface, arg, path, &bus);
        if (r != EXIT_ACCEPTED)
                return r;
        r = sd_bus_call_method(bus, DFUSD_BUS_NAME, *path, iface, method, &error, NULL, NULL);
        if (r < 0 && nothing_to_do && sd_bus_error_has_name(&error, nothing_to_do))
                return bus_log_error_status(ctx, what, &error, r, EXIT_USAGE);
        if (r < 0)
                return bus_log_error(ctx, what, &error, r);
        if (ctx->json) {
                _cleanup_(json_object_putp) json_object *doc = json_object_new_object();

                json_object_object_add(doc, "path", json_object_new_string(*path));
                json_object_object_add(doc, done_key, json_object_new_boolean(true));
                return output_json(doc, stdout) < 0 ? EXIT_IO : EXIT_ACCEPTED;
        }
        return EXIT_ACCEPTED;
}

static int unhex(char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

const char *object_path_id_buf(const char *path, char *buf, size_t size) {
        const char *slash, *p;
        size_t n = 0;

        if (!path || !path[0] || streq(path, "/"))
                return "-";
        slash = strrchr(path, '/');
        /* Undo sd_bus_path_encode(): "_32" is "2". */
        for (p = slash ? slash + 1 : path; *p && n + 1 < size; n++)
                if (p[0] == '_' && unhex(p[1]) >= 0 && unhex(p[2]) >= 0) {
                        buf[n] = (char)(unhex(p[1]) << 4 | unhex(p[2]));
                        p += 3;
                } else
                        buf[n] = *p++;
        buf[n] = '\0';
        return buf;
}

void json_merge(json_object *into, json_object *from) {
        json_object_object_foreach(from, key, value) {
                json_object_object_add(into, key, json_object_get(value));
        }
}

const char *json_get_str(json_object *o, const char *key, const char *def) {
        json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return def;
        return json_object_get_string(v);
}

uint64_t json_get_u64(json_object *o, const char *key) {
        json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return 0;
        return json_object_get_uint64(v);
}

double json_get_double(json_object *o, const char *key) {
        json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v))
                return 0;
        return json_object_get_double(v);
}

bool json_get_bool(json_object *o, const char *key) {
        json_object *v;

        return o && json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

#endif
