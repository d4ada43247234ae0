/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-access.h"
#include "bus-dict.h"
#include "bus-sequence.h"
#include "bus.h"
#include "log.h"
#include "manager.h"
#include "sequence.h"

/* org.dfusd.Flash1.Sequence: a source of per-board values, at sequence/<name>. */

int bus_sequence_path(const Sequence *q, char **ret) {
        /* '-' is allowed in a sequence's name, not in an object path: escaped. */
        return sd_bus_path_encode(DFUSD_SEQUENCE_PREFIX, q->name, ret);
}

static int property_get_kind(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Sequence *q = userdata;
        return sd_bus_message_append(reply, "s", q->kind == STORE_SEQUENCE_LIST ? "list" : "counter");
}

static int property_get_left(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Sequence *q = userdata;
        return sd_bus_message_append(reply, "t", sequence_left(q));
}

static int property_get_last(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Sequence *q = userdata;
        /* A list's last is its count; an unbounded counter's UINT64_MAX. */
        return sd_bus_message_append(reply, "t",
                                     q->kind == STORE_SEQUENCE_LIST ? q->n_values
                                     : q->has_last                  ? q->last
                                                                    : UINT64_MAX);
}

static int method_remove(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Sequence *q = userdata;
        _cleanup_free_ char *why = NULL;
        int r;

        r = bus_access_check_caller(q->manager, m, NULL, error);
        if (r < 0)
                return r;
        r = sequence_remove(q, &why);
        if (r == -EBUSY)
                return sd_bus_error_setf(error, DFUSD_ERROR_BUSY, "%s", why ? why : "In use.");
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "%s", why ? why : "Failed to remove the sequence.");
        return sd_bus_reply_method_return(m, NULL);
}

static void spoiled_done(Manager *mgr, int result, const StoreSpoiled *values, size_t n, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = userdata, *reply = NULL;
        int r;

        if (result == -ESHUTDOWN)
                return;
        if (result < 0) {
                (void)sd_bus_reply_method_errnof(m, result, "Failed to read the spoiled values: %m");
                return;
        }
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "a{sv}");
        FOREACH_ARRAY (v, values, n) {
                if (r >= 0)
                        r = sd_bus_message_open_container(reply, 'a', "{sv}");
                if (r >= 0)
                        r = sd_bus_message_append(reply, "{sv}{sv}{sv}{sv}{sv}", "value", "s", v->value,
                                                  "job", "u", v->job_id, "port", "s", v->port ?: "",
                                                  "serial", "s", v->serial ?: "", "end-time", "t",
                                                  v->end_usec);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        if (r < 0) {
                log_warning_errno(r, "Failed to reply to GetSpoiled: %m");
                (void)sd_bus_reply_method_errnof(m, r, "Failed to list the spoiled values: %m");
        }
}

/* GetSpoiled(u limit): read on a thread, like the history. */
static int method_get_spoiled(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Sequence *q = userdata;
        uint32_t limit;
        int r;

        r = sd_bus_message_read(m, "u", &limit);
        if (r < 0)
                return r;
        r = sequence_spoiled_query(q->manager, q->name, limit, spoiled_done, sd_bus_message_ref(m));
        if (r < 0) {
                sd_bus_message_unref(m);
                return sd_bus_error_set_errnof(error, r, "Failed to read the spoiled values: %m");
        }
        return 1;
}

const sd_bus_vtable bus_sequence_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", NULL, offsetof(Sequence, name), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Kind", "s", property_get_kind, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Start", "t", NULL, offsetof(Sequence, start), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Step", "t", NULL, offsetof(Sequence, step), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Last", "t", property_get_last, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Next", "t", NULL, offsetof(Sequence, next), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Taken", "t", NULL, offsetof(Sequence, taken), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Used", "t", NULL, offsetof(Sequence, used), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Spoiled", "t", NULL, offsetof(Sequence, spoiled),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Returned", "t", NULL, offsetof(Sequence, returned),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Left", "t", property_get_left, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD("Remove", NULL, NULL, method_remove, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetSpoiled", SD_BUS_ARGS("u", limit), SD_BUS_RESULT("aa{sv}", values),
                                method_get_spoiled, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

static Sequence *sequence_from_path(Manager *m, const char *path) {
        _cleanup_free_ char *name = NULL;

        if (sd_bus_path_decode(path, DFUSD_SEQUENCE_PREFIX, &name) <= 0)
                return NULL;
        return sequence_find(m, name);
}

int bus_sequence_object_find(sd_bus *bus, const char *path, const char *iface, void *userdata, void **found,
                             sd_bus_error *error) {
        Bus *b = userdata;
        Sequence *q = sequence_from_path(b->manager, path);

        if (!q)
                return 0;
        *found = q;
        return 1;
}

int bus_sequence_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                                 sd_bus_error *error) {
        Bus *b = userdata;
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));

        if (!l)
                return -ENOMEM;
        LIST_FOREACH (sequences, q, b->manager->sequences) {
                _cleanup_free_ char *p = NULL;
                if (bus_sequence_path(q, &p) < 0 || strv_extend(&l, p) < 0)
                        return -ENOMEM;
        }
        *nodes = TAKE_PTR(l);
        return 1;
}

int bus_sequence_property_get_all(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        int r = sd_bus_message_open_container(reply, 'a', "o");
        if (r < 0)
                return r;
        LIST_FOREACH (sequences, q, b->manager->sequences) {
                _cleanup_free_ char *p = NULL;
                if (bus_sequence_path(q, &p) < 0)
                        return -ENOMEM;
                r = sd_bus_message_append(reply, "o", p);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

typedef struct SpecRead {
        SequenceSpec spec;
        bool has_start, has_list;
} SpecRead;

static int spec_read(sd_bus_message *m, const char *key, const char *signature, void *userdata,
                     sd_bus_error *error) {
        SpecRead *p = userdata;
        const char *want = streq(key, "list") ? "h" : "t";
        uint64_t *target = streq(key, "start")  ? &p->spec.start
                           : streq(key, "step") ? &p->spec.step
                           : streq(key, "last") ? &p->spec.last
                                                : NULL;

        if (!target && !streq(key, "list"))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Unknown sequence key '%s': expected start, step, last or list.",
                                         key);
        if (!streq(signature, want))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Key '%s' must have type '%s', got '%s'.", key, want, signature);
        if (!target) {
                p->has_list = true;
                return sd_bus_message_read(m, "h", &p->spec.list_fd);
        }
        if (target == &p->spec.start)
                p->has_start = true;
        if (target == &p->spec.last)
                p->spec.has_last = true;
        return sd_bus_message_read(m, "t", target);
}

static void on_added(Manager *mgr, Sequence *q, int result, const char *error, void *userdata) {
        sd_bus_message *m = userdata;
        _cleanup_free_ char *p = NULL;

        if (result < 0)
                (void)sd_bus_reply_method_errorf(m,
                                                 result == -EEXIST   ? DFUSD_ERROR_FAILED
                                                 : result == -EINVAL ? SD_BUS_ERROR_INVALID_ARGS
                                                                     : DFUSD_ERROR_FAILED,
                                                 "%s", error ? error : "Failed to add the sequence.");
        else if (bus_sequence_path(q, &p) < 0)
                (void)sd_bus_reply_method_errorf(m, SD_BUS_ERROR_NO_MEMORY, "Out of memory.");
        else
                (void)sd_bus_reply_method_return(m, "o", p);
        sd_bus_message_unref(m);
}

int bus_sequence_method_add(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        _cleanup_free_ char *why = NULL;
        SpecRead p = {.spec.list_fd = -EBADF};
        const char *name;
        uid_t uid;
        int r;

        r = bus_access_check_caller(b->manager, m, &uid, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        r = bus_message_read_dict(m, spec_read, &p, error);
        if (r < 0)
                return r;
        if (p.has_list == p.has_start)
                return sd_bus_error_setf(
                        error, SD_BUS_ERROR_INVALID_ARGS,
                        "A sequence is a counter (start, step, last) or a list (list), one of them.");
        if (p.has_list && (p.spec.step || p.spec.has_last))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "A list takes no step or last.");
        p.spec.name = name;
        p.spec.kind = p.has_list ? STORE_SEQUENCE_LIST : STORE_SEQUENCE_COUNTER;
        p.spec.owner = uid;
        r = sequence_add(b->manager, &p.spec, on_added, sd_bus_message_ref(m), &why);
        if (r < 0) {
                sd_bus_message_unref(m);
                if (r == -EINVAL)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "%s",
                                                 why ? why : "Invalid sequence.");
                if (r == -EEXIST)
                        return sd_bus_error_setf(error, DFUSD_ERROR_FAILED, "%s", why);
                if (r == -EBUSY)
                        return sd_bus_error_setf(error, DFUSD_ERROR_BUSY, "%s", why);
                return sd_bus_error_set_errnof(error, r, "Failed to add the sequence: %m");
        }
        return 1;
}
