/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>

#include "bus-dict.h"
#include "bus-history.h"
#include "bus.h"
#include "history.h"
#include "log.h"
#include "manager.h"

static int filter_read(sd_bus_message *m, const char *key, const char *signature, void *userdata,
                       sd_bus_error *error) {
        StoreHistoryFilter *f = userdata;
        static const struct {
                const char *key, *signature;
        } keys[] = {
                {"since", "t"},  {"until", "t"}, {"port", "s"},   {"serial", "s"}, {"image", "s"},
                {"result", "s"}, {"limit", "u"}, {"before", "t"}, {"value", "s"},
        };
        const char *want = NULL;

        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (streq(keys[i].key, key))
                        want = keys[i].signature;
        if (!want)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unknown filter key '%s'.", key);
        if (!streq(signature, want))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Filter key '%s' must have type '%s'.", key, want);
        if (streq(key, "since"))
                return sd_bus_message_read(m, "t", &f->since);
        if (streq(key, "until"))
                return sd_bus_message_read(m, "t", &f->until);
        if (streq(key, "before"))
                return sd_bus_message_read(m, "t", &f->before);
        if (streq(key, "limit"))
                return sd_bus_message_read(m, "u", &f->limit);
        if (streq(key, "port"))
                return sd_bus_message_read(m, "s", &f->port);
        if (streq(key, "serial"))
                return sd_bus_message_read(m, "s", &f->serial);
        if (streq(key, "image"))
                return sd_bus_message_read(m, "s", &f->image);
        if (streq(key, "value"))
                return sd_bus_message_read(m, "s", &f->value);
        return sd_bus_message_read(m, "s", &f->result);
}

static int append_string(sd_bus_message *m, const char *key, const char *v) {
        return v ? sd_bus_message_append(m, "{sv}", key, "s", v) : 0;
}

/* "values": a(ss), (sequence, value) for each value the job took and did not return. */
static int append_values(sd_bus_message *m, char *const *values) {
        int r = bus_message_open_dict_entry(m, "values", "a(ss)");

        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(ss)");
        for (char *const *v = values; r >= 0 && v[0] && v[1]; v += 2)
                r = sd_bus_message_append(m, "(ss)", v[0], v[1]);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = bus_message_close_dict_entry(m);
        return r;
}

static int append_entry(sd_bus_message *m, const StoreHistoryEntry *e) {
        int r;

        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}{sv}", "id", "u", e->id, "cursor", "t", e->cursor);
        if (r >= 0)
                r = append_string(m, "result", e->result);
        if (r >= 0)
                r = append_string(m, "error", e->error);
        if (r >= 0)
                r = append_string(m, "port", e->port);
        if (r >= 0)
                r = append_string(m, "serial", e->serial);
        if (r >= 0)
                r = append_string(m, "station", e->station);
        if (r >= 0)
                r = append_string(m, "target", e->target);
        if (r >= 0)
                r = append_string(m, "image-sha256", e->image_sha256);
        if (r >= 0 && e->trust)
                r = append_string(m, "trust", e->trust);
        if (r >= 0 && e->protection)
                r = append_string(m, "protection", e->protection);
        if (r >= 0 && e->origin)
                r = append_string(m, "origin", e->origin);
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}{sv}{sv}{sv}{sv}{sv}{sv}", "submit-time", "t",
                                          e->submit_usec, "start-time", "t", e->start_usec, "end-time", "t",
                                          e->end_usec, "duration-usec", "t", e->duration_usec, "bytes", "t",
                                          e->bytes, "dropped-segments", "u", (uint32_t)e->dropped_segments,
                                          "interrupted", "b", e->interrupted);
        if (r >= 0 && e->rule_id)
                r = sd_bus_message_append(m, "{sv}", "rule", "u", e->rule_id);
        if (r >= 0 && e->values)
                r = append_values(m, e->values);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

static void history_done(Manager *mgr, int result, StoreHistory *page, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = userdata, *reply = NULL;
        _cleanup_(store_history_freep) StoreHistory *h = page;
        int r;

        if (mgr->exiting)
                return;
        if (result < 0) {
                (void)sd_bus_reply_method_errnof(m, result, "Failed to read the job history: %m");
                return;
        }
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "a{sv}");
        for (size_t i = 0; r >= 0 && i < h->n; i++)
                r = append_entry(reply, &h->entries[i]);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        if (r < 0) {
                log_warning_errno(r, "Failed to reply to GetHistory: %m");
                (void)sd_bus_reply_method_errnof(m, r, "Failed to build the history: %m");
        }
}

int bus_history_method_get(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        StoreHistoryFilter f = {};
        int r;

        r = bus_message_read_dict(m, filter_read, &f, error);
        if (r < 0)
                return r;
        if (f.limit > STORE_HISTORY_LIMIT_MAX)
                f.limit = STORE_HISTORY_LIMIT_MAX;
        r = history_query(b->manager, &f, history_done, sd_bus_message_ref(m));
        if (r < 0) {
                sd_bus_message_unref(m);
                return sd_bus_error_set_errnof(error, r, "Failed to query the job history: %m");
        }
        return 1;
}
