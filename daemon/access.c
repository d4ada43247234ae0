/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <grp.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "log.h"

/*
 * Besides the bus policy, the daemon checks who calls: root, members of the dfusd group (or the one
 * configured), and on the session bus the user who owns it, may change things. A job's submitter may
 * always cancel it.
 */

static bool gid_in_group(const char *group, gid_t gid, const gid_t *gids, int n) {
        char buf[4096];
        struct group grp, *res = NULL;

        if (getgrnam_r(group, &grp, buf, sizeof(buf), &res) != 0 || !res)
                return false;
        if (gid == res->gr_gid)
                return true;
        for (int i = 0; i < n; i++)
                if (gids[i] == res->gr_gid)
                        return true;
        return false;
}

static int caller_uid(sd_bus_message *m, uid_t *ret_uid, sd_bus_creds **ret_creds) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        int r;

        /* dbus-daemon reports the uid and pid only; the groups come from /proc (AUGMENT). */
        r = sd_bus_query_sender_creds(m,
                                      SD_BUS_CREDS_EUID | SD_BUS_CREDS_EGID |
                                              SD_BUS_CREDS_SUPPLEMENTARY_GIDS | SD_BUS_CREDS_AUGMENT,
                                      &creds);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_euid(creds, ret_uid);
        if (r < 0)
                return r;
        if (ret_creds)
                *ret_creds = TAKE_PTR(creds);
        return 0;
}

int access_check_caller(Context *ctx, sd_bus_message *m, uid_t *ret_uid, sd_bus_error *error) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        const gid_t *gids = NULL;
        gid_t gid = (gid_t)-1;
        uid_t uid;
        int r, n;

        r = caller_uid(m, &uid, &creds);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to identify the caller: %m");
        if (ret_uid)
                *ret_uid = uid;
        if (uid == 0)
                return 0;
        /* On the session bus the daemon runs as the user who owns that bus: that user may do anything. */
        if (ctx->user && uid == geteuid())
                return 0;
        (void)sd_bus_creds_get_egid(creds, &gid);
        n = sd_bus_creds_get_supplementary_gids(creds, &gids);
        if (gid_in_group(ctx->config.group ? ctx->config.group : "dfusd", gid, gids, n < 0 ? 0 : n))
                return 0;
        return sd_bus_error_setf(error, DFUSD_ERROR_ACCESS_DENIED,
                                 "Only root and members of group '%s' may do this.",
                                 ctx->config.group ? ctx->config.group : "dfusd");
}

int access_check_job(Job *j, sd_bus_message *m, sd_bus_error *error) {
        uid_t uid;
        int r;

        r = caller_uid(m, &uid, NULL);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to identify the caller: %m");
        if (uid == j->owner)
                return 0;
        return access_check_caller(j->ctx, m, NULL, error);
}
