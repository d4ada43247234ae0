/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What every adversarial case checks at its end, on top of the integration harness. */

#include "harness.h"

#define ADV_FLASH_BASE   0x08000000u
#define ADV_REPLY_MAX    (1024 * 1024) /* far under the bus's 32 MiB maximum message */
#define ADV_GET_MAX_USEC (100 * 1000)

#define ADV_BUSY           "org.dfusd.Flash1.Error.Busy"
#define ADV_IMAGE_REJECTED "org.dfusd.Flash1.Error.ImageRejected"
#define ADV_NO_DEVICE      "org.dfusd.Flash1.Error.NoDevice"
#define ADV_INVALID_ARGS   "org.freedesktop.DBus.Error.InvalidArgs"

/* A Get of Version answers within 100 ms (the best of three, so that one scheduling hiccup of a
 * loaded test machine does not count). */
void adv_assert_answers(Integ *t);

/* Resident memory (KiB) and open file descriptors of a process. */
long adv_rss_kib(pid_t pid);
unsigned adv_fd_count(pid_t pid);
/* Waits up to 10 s for dfusd's fd count to fall to max_fds or below, and checks its RSS. */
void adv_assert_bounded(Integ *t, long max_rss_kib, unsigned max_fds);

/* Every entry of the history, paging back with the cursor; each page's reply under ADV_REPLY_MAX. */
unsigned adv_history_count(Integ *t);

/* The D-Bus error name of error, or "" when it is not a remote error. */
char *adv_error_name(const GError *error);

/* An Intel HEX file of n one-byte records at every second address from ADV_FLASH_BASE, byte i
 * being (uint8_t)i. */
char *adv_write_sparse_hex(Integ *t, const char *name, size_t n);

/* A second connection to the test's bus, for a client that misbehaves on its own. */
GDBusConnection *adv_connect(Integ *t);

/* Calls method with fds (not closed) on conn asynchronously; the reply lands in *ret_reply and *ret_error
 * and *pending is decremented. */
void adv_call_fds_async(GDBusConnection *conn, const char *method, const int *fds, size_t n_fds,
                        GVariant *options, GVariant **ret_reply, GError **ret_error, int *pending);
/* Runs the default main context until *pending is 0 or timeout_sec passes; returns *pending == 0. */
bool adv_wait_pending(int *pending, unsigned timeout_sec);

/* The board's dump is all 0xFF (untouched since the simulated board started blank). */
void adv_assert_dump_blank(Integ *t, const char *port);
