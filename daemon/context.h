/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <libudev.h>
#include <libusb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "image/image.h"
#include "list.h"
#include "memmap.h"
#include "options.h"
#include "parts.h"
#include "plan.h"
#include "sanitize.h"
#include "dfuse.h"

#define DFUSD_BUS_NAME      "org.dfusd.Flash1"
#define DFUSD_MANAGER_PATH  "/org/dfusd/Flash1"
#define DFUSD_DEVICE_PREFIX "/org/dfusd/Flash1/device"
#define DFUSD_JOB_PREFIX    "/org/dfusd/Flash1/job"
#define DFUSD_RULE_PREFIX   "/org/dfusd/Flash1/rule"
#define DFUSD_IFACE_MANAGER "org.dfusd.Flash1.Manager"
#define DFUSD_IFACE_DEVICE  "org.dfusd.Flash1.Device"
#define DFUSD_IFACE_JOB     "org.dfusd.Flash1.Job"
#define DFUSD_IFACE_RULE    "org.dfusd.Flash1.Rule"

#define DFUSD_ERROR_IMAGE_REJECTED "org.dfusd.Flash1.Error.ImageRejected"
#define DFUSD_ERROR_NO_DEVICE      "org.dfusd.Flash1.Error.NoDevice"
#define DFUSD_ERROR_BUSY           "org.dfusd.Flash1.Error.Busy"
#define DFUSD_ERROR_ACCESS_DENIED  "org.dfusd.Flash1.Error.AccessDenied"
#define DFUSD_ERROR_NOT_FOUND      "org.dfusd.Flash1.Error.NotFound"
#define DFUSD_ERROR_CANCELLED      "org.dfusd.Flash1.Error.Cancelled"
#define DFUSD_ERROR_FAILED         "org.dfusd.Flash1.Error.Failed"

#define USEC_PER_SEC  UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)

typedef struct Context Context;
typedef struct Device Device;
typedef struct Job Job;
typedef struct Rule Rule;

typedef struct Station {
        char *port_path;
        char *name;
} Station;

typedef struct UsbId {
        uint16_t vid, pid;
} UsbId;

typedef struct Config {
        unsigned max_parallel;
        bool default_verify;
        uint64_t image_size_cap;
        uint64_t job_linger_usec;
        uint64_t read_timeout_usec; /* how long a pipe may take to deliver an image */
        char *state_dir;
        char *group; /* may call mutating methods */
        Station *stations;
        size_t n_stations;
        UsbId *ids;
        size_t n_ids;
} Config;

struct Device {
        Context *ctx;
        char *port_path;
        char *object_path;
        char *syspath;
        char *serial;
        const char *station; /* owned by the config */
        bool serial_duplicated;
        uint16_t vid, pid, bcd_device, transfer_size;
        char **alt_strings;
        MemMap *map;
        const PartInfo *part;
        Job *current_job;
        bool published;
        bool removed; /* gone while a probe was running */
        bool failed;  /* probe failed: State "error" */
        bool left;    /* a job asked it to leave: it is going away, so it takes no job until it returns */
        sd_event_source *left_source;
        uint64_t generation; /* which udev add created this device */
        LIST_FIELDS(Device, devices);
};

typedef enum JobState {
        JOB_QUEUED,
        JOB_WAITING,
        JOB_ERASING,
        JOB_WRITING,
        JOB_VERIFYING,
        JOB_LEAVING,
        JOB_DONE,
        JOB_FAILED,
        JOB_CANCELLED,
        _JOB_STATE_MAX,
} JobState;

/* What the worker thread shares with the event loop, under Job.lock. */
typedef struct JobShared {
        DfusePhase phase;
        uint64_t phase_done, phase_total;
        uint64_t phase_start_usec;
        bool dirty;
        bool leave_requested;
} JobShared;

struct Job {
        Context *ctx;
        uint32_t id;
        char *object_path;
        JobState state;
        JobOptions opts;
        uid_t owner;
        char *target;        /* as given ("port=1-1.3"), or the board chosen by default */
        Image *image;        /* merged, as loaded */
        char **image_hashes; /* spooled inputs, in order */
        char *image_sha256;
        char *port_path; /* the board, once matched */
        char *serial;
        char *station;
        char *device_path;
        const PartInfo *part;
        SanitizeReport *report;
        Plan *plan;
        uint32_t rule_id;
        uint64_t prepared_generation; /* the Device.generation the plan was built for, 0: none */
        bool interrupted;             /* re-queued after the daemon stopped while it ran */
        bool accepted;                /* its submit record is on disk: the job exists for everyone */
        bool finishing;               /* its end record is being written */
        JobState final_state;
        sd_bus_message *submit_call; /* the Submit to answer once the job is on disk */
        uint64_t submit_usec, start_usec, end_usec, expected_end_usec;
        uint64_t bytes_done, bytes_total, rate;
        double progress;
        char *error;
        sd_event_source *timeout_source;
        sd_event_source *linger_source;

        /* worker */
        atomic_bool cancel;
        pthread_mutex_t lock;
        JobShared shared;
        bool running;
        int result;
        DfuError worker_error;
        DfuseStats stats;
        LIST_FIELDS(Job, jobs);
};

struct Rule {
        Context *ctx;
        uint32_t id;
        char *object_path;
        JobOptions opts; /* match-* and once included */
        uid_t owner;
        char **image_hashes;
        char *image_sha256;
        char **flashed; /* "port serial" keys of boards flashed under this rule */
        LIST_FIELDS(Rule, rules);
};

typedef struct Task Task;
typedef struct StoreWrite StoreWrite;

struct Context {
        sd_event *event;
        sd_bus *bus;
        bool user;
        bool ready; /* bus name requested */
        char *runtime_dir;
        Config config;
        char *config_path;

        struct udev *udev;
        struct udev_monitor *monitor;
        sd_event_source *monitor_source;
        unsigned probes_pending; /* of the initial enumeration */
        unsigned calls_pending;  /* Submit/Inspect/AddRule calls reading their images */
        uint64_t device_generation;
        libusb_context *usb;

        Device *devices;
        unsigned n_devices;
        Job *jobs;
        unsigned n_jobs, n_running;
        uint32_t next_job_id;
        Rule *rules;
        uint32_t next_rule_id;

        int store_fd; /* jobs.jsonl, O_APPEND */
        pthread_mutex_t store_lock;
        pthread_cond_t store_cond;
        pthread_t store_thread;
        bool store_thread_running;
        bool store_stop;
        StoreWrite *store_queue, *store_done;

        /* worker threads report here */
        int wake_fd; /* eventfd */
        sd_event_source *wake_source;
        pthread_mutex_t tasks_lock;
        Task *tasks_done;
        Task *tasks_running;
        sd_event_source *progress_timer;
        bool exiting;
        atomic_bool stopping; /* exiting, for threads */
};

/* context.c */
int context_new(Context **ret);
Context *context_free(Context *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Context *, context_free);
uint64_t now_realtime_usec(void);
uint64_t now_monotonic_usec(void);

/* config.c */
void config_init(Config *c);
void config_done(Config *c);
int config_load(Config *c, const char *path);
const char *config_station(const Config *c, const char *port_path);
bool config_wants_id(const Config *c, uint16_t vid, uint16_t pid);

/* tasks.c: run a function on a thread, then a completion on the event loop */
typedef void (*TaskRunFn)(void *userdata);
typedef void (*TaskDoneFn)(Context *ctx, void *userdata);
int tasks_setup(Context *ctx);
int task_start(Context *ctx, TaskRunFn run, TaskDoneFn done, void *userdata);
void tasks_wake(Context *ctx);
void tasks_join_all(Context *ctx);

/* hotplug.c */
int hotplug_setup(Context *ctx);
Device *device_find(Context *ctx, const char *port_path);
Device *device_free(Device *d);
void device_update_duplicates(Context *ctx);
const char *device_state(const Device *d);

/* bus-manager.c, bus-device.c, bus-job.c, bus-rule.c */
int bus_setup(Context *ctx);
/* Takes the bus name: the daemon is ready once the initial boards are published. */
int bus_ready(Context *ctx);
int bus_manager_emit_changed(Context *ctx, const char *property);
/* PREFIX/ID: the object path of job or rule ID. */
int bus_object_path_new(const char *prefix, uint32_t id, char **ret);
/* The ID in PREFIX/ID, or 0 when path names no object under prefix. */
uint32_t bus_object_path_id(const char *path, const char *prefix);
int bus_device_add(Device *d);
int bus_device_remove(Device *d);
int bus_device_emit_changed(Device *d, const char *property);
int bus_job_add(Job *j);
int bus_job_remove(Job *j, const char *result);
int bus_job_emit_changed(Job *j, const char **properties);
int bus_job_emit_completed(Job *j);
int bus_rule_add(Rule *r);
int bus_rule_remove(Rule *r);
int bus_rule_emit_changed(Rule *r, const char *property);
extern const sd_bus_vtable manager_vtable[];
extern const sd_bus_vtable device_vtable[];
extern const sd_bus_vtable job_vtable[];
extern const sd_bus_vtable rule_vtable[];
int device_object_find(sd_bus *bus, const char *path, const char *iface, void *userdata, void **found,
                       sd_bus_error *error);
int device_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                           sd_bus_error *error);
int job_object_find(sd_bus *bus, const char *path, const char *iface, void *userdata, void **found,
                    sd_bus_error *error);
int job_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error);
int rule_object_find(sd_bus *bus, const char *path, const char *iface, void *userdata, void **found,
                     sd_bus_error *error);
int rule_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error);
int bus_append_report(sd_bus_message *m, const SanitizeReport *report);
int bus_append_plan(sd_bus_message *m, const Plan *plan);

/* access.c */
int access_check_caller(Context *ctx, sd_bus_message *m, uid_t *ret_uid, sd_bus_error *error);
int access_check_job(Job *j, sd_bus_message *m, sd_bus_error *error);

/* job.c */
const char *job_state_to_string(JobState s);
bool job_state_is_final(JobState s);
int job_new(Context *ctx, uint32_t id, Job **ret);
Job *job_free(Job *j);
Job *job_find(Context *ctx, uint32_t id);
int job_prepare(Job *j, const Device *d, bool default_verify, DfuError *error);
bool job_matches_device(const Job *j, const Device *d);
void job_set_state(Job *j, JobState s);
void job_finish(Job *j, JobState s, const char *error);
int job_cancel(Job *j);
int job_arm_timeout(Job *j);
void job_flush_progress(Job *j);

/* worker.c */
int worker_start(Job *j, Device *d);
void worker_flush_all(Context *ctx);

/* queue.c */
void queue_dispatch(Context *ctx);
int queue_add(Context *ctx, Job *j);

/* images.c: read caller's fds (on a thread), spool by hash, parse, merge */
typedef struct ImageSet {
        int *fds;
        size_t n_fds;
        char **hashes;
        Image *merged;
        bool has_base;
        uint32_t base;
        uint64_t size_cap;
        uint64_t timeout_usec;
        const atomic_bool *stopping; /* the daemon is stopping: give up reading */
        char *spool_dir;
        DfuError error;
        int result;
} ImageSet;
int image_set_new_from_message(Context *ctx, sd_bus_message *m, ImageSet **ret, sd_bus_error *error);
ImageSet *image_set_free(ImageSet *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(ImageSet *, image_set_free);
void image_set_load(void *userdata); /* a TaskRunFn */
int image_set_load_spooled(Context *ctx, char *const *hashes, const JobOptions *o, Image **ret,
                           DfuError *error);
char *images_sha256_summary(char *const *hashes);
/* Removes spooled images no queued job or rule needs any more (all of them, or those of hashes). */
void spool_release(Context *ctx, char *const *hashes);

/* store.c, store-write.c: the job journal */
typedef void (*StoreDoneFn)(Context *ctx, int result, void *userdata);
int store_open(Context *ctx);
int store_writer_start(Context *ctx);
void store_writer_stop(Context *ctx);
void store_writer_reap(Context *ctx);
/* Queues a record; done (may be NULL) runs on the loop once it is on disk. */
int store_write_async(Context *ctx, json_object *o, StoreDoneFn done, void *userdata);
/* From a worker thread: returns once the record is on disk. */
int store_write_sync(Context *ctx, json_object *o);
int store_record_submit(Context *ctx, const Job *j, StoreDoneFn done, void *userdata);
int store_record_start(Context *ctx, const Job *j);
int store_record_leave(Context *ctx, const Job *j);
int store_record_end(Context *ctx, const Job *j, JobState result, uint64_t dropped_segments,
                     StoreDoneFn done, void *userdata);
int store_resume(Context *ctx);
/* Answers a GetHistory call m later, from a thread's completion. */
int store_history(Context *ctx, sd_bus_message *m, uint64_t since, const char *port, const char *serial,
                  uint32_t limit);

/* rules.c */
Rule *rule_free(Rule *r);
Rule *rule_find(Context *ctx, uint32_t id);
int rule_new(Context *ctx, uint32_t id, Rule **ret);
char *rule_match_string(const Rule *r);
int rules_save(Context *ctx);
int rules_load(Context *ctx);
void rules_device_added(Context *ctx, Device *d);
void rules_job_finished(Context *ctx, Job *j);

/* journal.c */
void journal_job_finished(const Job *j, uint64_t dropped_segments);

/* main.c */
void notify_status(Context *ctx);
