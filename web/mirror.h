/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A copy of dfusd's objects (devices, jobs, rules with all their properties), read once with
 * GetManagedObjects and then kept current from the signals alone: InterfacesAdded/Removed,
 * PropertiesChanged, JobNew/JobRemoved, and NameOwnerChanged for dfusd coming and going. Nothing is
 * polled. Requests are answered from the copy; only writes and history go to dfusd.
 */

#include <json-c/json.h>
#include <stdbool.h>
#include <systemd/sd-bus.h>

#define DFUSD_BUS_NAME       "org.dfusd.Flash1"
#define DFUSD_PATH           "/org/dfusd/Flash1"
#define DFUSD_DEVICE_PATH    "/org/dfusd/Flash1/device"
#define DFUSD_JOB_PATH       "/org/dfusd/Flash1/job"
#define DFUSD_RULE_PATH      "/org/dfusd/Flash1/rule"
#define DFUSD_SEQUENCE_PATH  "/org/dfusd/Flash1/sequence"
#define DFUSD_IFACE_MGR      "org.dfusd.Flash1.Manager"
#define DFUSD_IFACE_DEVICE   "org.dfusd.Flash1.Device"
#define DFUSD_IFACE_JOB      "org.dfusd.Flash1.Job"
#define DFUSD_IFACE_RULE     "org.dfusd.Flash1.Rule"
#define DFUSD_IFACE_SEQUENCE "org.dfusd.Flash1.Sequence"

typedef struct MirrorCallbacks {
        /* An object of kind "device", "job" or "rule" came or changed (removed false), or went.
         * Sequences ("sequence") are mirrored for the metrics only and not reported here. */
        void (*changed)(void *userdata, const char *kind, const char *path, bool removed);
        /* A job's State became final: props as they are now. Called once per job, before changed. */
        void (*job_ended)(void *userdata, const char *path, json_object *props);
        /* The whole copy was replaced (dfusd came, went or was read again). */
        void (*resynced)(void *userdata);
} MirrorCallbacks;

typedef struct Mirror {
        sd_bus *bus;
        json_object *objects; /* path -> { interface -> { property -> value } } */
        bool dfusd_up;
        sd_bus_slot *match_slots[5];
        sd_bus_slot *sync_slot;
        MirrorCallbacks cb;
        void *userdata;
} Mirror;

int mirror_start(Mirror *m, sd_bus *bus, const MirrorCallbacks *cb, void *userdata);
void mirror_done(Mirror *m);

/* Adds what a write just created, so that the writer reads it back at once (its InterfacesAdded
 * may still be queued behind the reply). */
int mirror_add(Mirror *m, const char *path, const char *iface, json_object *props);
/* "device", "job", "rule", or NULL for the path of anything else. */
const char *mirror_kind(const char *path);
/* The interface dfusd serves objects of that kind on. */
const char *mirror_kind_iface(const char *kind);
/* The properties of PATH on its kind's interface (borrowed), or NULL. */
json_object *mirror_props(const Mirror *m, const char *path);
bool job_state_is_final(const char *state);
