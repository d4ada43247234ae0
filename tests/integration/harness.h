/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <gio/gunixfdlist.h>
#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * Integration harness: a private dbus-daemon, the dfusd-sim runner with simulated boards, and the real
 * dfusd running under it, all in a fresh temporary directory per test. The bus, state and dumps never
 * leave that directory, so tests can run in parallel.
 */

#define DFUSD_BUS_NAME   "org.dfusd.Flash1"
#define DFUSD_PATH       "/org/dfusd/Flash1"
#define DFUSD_MANAGER    "org.dfusd.Flash1.Manager"
#define DFUSD_JOB        "org.dfusd.Flash1.Job"
#define DFUSD_RULE       "org.dfusd.Flash1.Rule"
#define DFUSD_DEVICE     "org.dfusd.Flash1.Device"
#define INTEG_TIME_SCALE "0.01"

typedef struct IntegRun {
        unsigned boards;          /* --boards */
        const char *const *parts; /* --part, one per board or one for all; NULL: the runner's default */
        const char *script;       /* text of the runner's --script file, or NULL */
        const char *time_scale;   /* NULL: INTEG_TIME_SCALE */
        bool system_bus;          /* run `dfusd` on a system-type bus instead of `dfusd --user` */
        const char *user;         /* run the runner and dfusd as this user (from root); NULL: as is */
        const char *config;       /* text of dfusd.conf; NULL: empty (the host's file never counts) */
        unsigned hold_until_busy; /* --hold-until-busy: busy boards hold until this many are busy */
} IntegRun;

typedef struct Integ {
        char *dir; /* everything of this test lives below */
        char *state_dir, *runtime_dir, *dump_dir;
        char *bus_address;
        char *log_path; /* runner + daemon output, printed when the test fails */
        GSubprocess *bus;
        GSubprocess *runner;
        GDBusConnection *conn;
        unsigned runs;
        pid_t daemon_pid; /* of the last start, for cleaning up after a failed assertion */
        bool system_bus;
} Integ;

/* Paths of the programs under test, from the environment ctest sets (DFUSD_BIN, DFUSD_SIM). */
const char *integ_dfusd_path(void);
const char *integ_sim_path(void);

void integ_setup(Integ *t, gconstpointer data);
void integ_teardown(Integ *t, gconstpointer data);

/* Starts the bus (first call only), the runner and the daemon; waits for the Version property. */
void integ_start(Integ *t, const IntegRun *run);
/* SIGTERM to dfusd, then waits for the runner to write its dumps and exit. */
void integ_stop(Integ *t);
/* kill -9 of dfusd (nothing flushed), then waits for the runner. */
void integ_crash(Integ *t);
pid_t integ_daemon_pid(Integ *t);

/* The runner's dump of a board's flash (whole flash from its base), or NULL. */
GBytes *integ_dump(Integ *t, const char *port);
/* The runner's counters/timestamps file, or NULL. */
char *integ_runner_json(Integ *t);
/*
 * Sends one step of the runner's script language ("plug 1-3 part=f405", "unplug 1-1") to the running
 * runner, which acts on it at once: a test plugs a board when it has seen what must come first.
 */
void integ_sim_step(Integ *t, const char *step);
/* boards_busy_max of the runner's rack.json: the most boards it saw busy at once. */
unsigned integ_busy_max(Integ *t);

/* Writes a file below the test directory and returns its path (owned by t's directory). */
char *integ_write_file(Integ *t, const char *name, const void *data, size_t size);

/* An image piece for integ_write_ihex(). */
typedef struct IntegSegment {
        uint32_t address;
        const uint8_t *data;
        size_t size;
} IntegSegment;
char *integ_write_ihex(Integ *t, const char *name, const IntegSegment *segs, size_t n);
/* Deterministic pseudo-random bytes (seeded), for images. */
uint8_t *integ_pattern(size_t size, uint32_t seed);

/* Manager calls. images: file paths, opened read-only and passed as fds. */
GVariant *integ_options(const char *first_key, ...) G_GNUC_NULL_TERMINATED;
char *integ_submit(Integ *t, const char *const *images, GVariant *options, GError **error);
char *integ_add_rule(Integ *t, const char *const *images, GVariant *options, GError **error);
/* Calls a method with the given fds (may be -1 entries are not allowed); reply or NULL + error. */
GVariant *integ_call_fds(Integ *t, const char *method, const int *fds, size_t n_fds, GVariant *options,
                         const char *reply_type, GError **error);
GVariant *integ_call(Integ *t, const char *path, const char *iface, const char *method, GVariant *args,
                     const char *reply_type, GError **error);

GVariant *integ_get(Integ *t, const char *path, const char *iface, const char *prop, GError **error);
char *integ_get_string(Integ *t, const char *path, const char *iface, const char *prop);
/* The string key of the newest history entry, "" when it lacks it. */
char *integ_history_newest_string(Integ *t, const char *key);

/* Polls the job's State until it is final (done, failed, cancelled); returns it. */
char *integ_wait_job(Integ *t, const char *job, unsigned timeout_sec);
/* Polls until the job's State equals state (or is final); returns the state seen. */
char *integ_wait_job_state(Integ *t, const char *job, const char *state, unsigned timeout_sec);
/* The object path of the board at a port, or NULL; polls until it is (not) there. */
char *integ_device_path(Integ *t, const char *port);
void integ_wait_device(Integ *t, const char *port, bool present, unsigned timeout_sec);
/* Polls until the Manager's Devices has n entries. */
void integ_wait_devices(Integ *t, unsigned n, unsigned timeout_sec);

/* Asserts that dump holds data at offset (address - flash base). */
void integ_assert_flash(GBytes *dump, uint32_t flash_base, uint32_t address, const uint8_t *data,
                        size_t size);
/* Asserts that [address, address + size) of the dump is erased (0xff). */
void integ_assert_blank(GBytes *dump, uint32_t flash_base, uint32_t address, size_t size);
/* The error is the D-Bus error name and its message holds every word (NULL-terminated list). */
void integ_assert_dbus_error(const GError *error, const char *name, ...) G_GNUC_NULL_TERMINATED;
