/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus-access.h"
#include "bus.h"
#include "macro.h"
#include "manager.h"

int bus_access_caller_uid(sd_bus_message *m, uid_t *ret) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        int r;

        /* No SD_BUS_CREDS_AUGMENT: only what the bus daemon vouches for. */
        r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_UID | SD_BUS_CREDS_EUID, &creds);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_euid(creds, ret);
        if (r < 0)
                r = sd_bus_creds_get_uid(creds, ret);
        return r;
}

int bus_access_check_caller(Manager *mgr, sd_bus_message *m, uid_t *ret_uid, sd_bus_error *error) {
        uid_t uid;
        int r;

        r = bus_access_caller_uid(m, &uid);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to identify the caller: %m");
        if (ret_uid)
                *ret_uid = uid;
        if (manager_uid_may_change(mgr, uid))
                return 0;
        return sd_bus_error_setf(error, DFUSD_ERROR_ACCESS_DENIED,
                                 "Only root and members of group '%s' may do this.",
                                 mgr->config.group ? mgr->config.group : "dfusd");
}

int bus_access_check_owner(Manager *mgr, uid_t owner, sd_bus_message *m, sd_bus_error *error) {
        uid_t uid;
        int r;

        r = bus_access_caller_uid(m, &uid);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to identify the caller: %m");
        if (uid == owner)
                return 0;
        return bus_access_check_caller(mgr, m, NULL, error);
}
