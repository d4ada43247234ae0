/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The testbed: boards as USB devices in sysfs and /dev, their arrival and departure, and the thread
 * that completes their URBs on time.
 */
#include "testbed-private.h" /* first: see testbed.h */

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>

uint64_t testbed_now_us(void) {
        return (uint64_t)g_get_monotonic_time();
}

GMainContext *testbed_timer_context(Testbed *t) {
        return t->timer_context;
}

const char *testbed_root_dir(const Testbed *t) {
        return t->root_dir;
}

/* Everything a client may look at once it hears of the device: descriptors, node (FIFO), handler. */
static int board_stage(TestbedBoard *b, const char *syspath, const char *devnode, DfuError *error) {
        Testbed *t = b->testbed;
        uint8_t desc[1024];
        g_autoptr(GError) gerror = NULL;

        g_mutex_lock(&b->lock);
        size_t n = MIN(sim_board_descriptors(b->sim, desc, sizeof(desc)), sizeof(desc));
        g_mutex_unlock(&b->lock);

        int r = stage_descriptors(t, syspath, desc, n);
        if (r < 0)
                return dfu_error_set(error, -r, "Cannot write the descriptors of %s: %s", b->port,
                                     g_strerror(-r));
        int fd = stage_node(t, devnode, true);
        if (fd < 0)
                return dfu_error_set(error, -fd, "Cannot create the FIFO node of %s: %s", b->port,
                                     g_strerror(-fd));
        g_mutex_lock(&b->lock);
        safe_close(b->fifo);
        b->fifo = fd;
        b->fifo_full = false;
        board_fifo_update_locked(b);
        g_mutex_unlock(&b->lock);

        if (!umockdev_testbed_attach_ioctl(t->umockdev, devnode, b->handler, &gerror))
                return dfu_error_set(error, EIO, "Cannot attach usbfs to %s: %s", devnode, gerror->message);
        return 0;
}

/*
 * Main context. Puts the board on the bus under a fresh address. umockdev itself sends the "add"
 * uevent when it creates the device, which is why everything else is in place before.
 */
static int board_plug(TestbedBoard *b, DfuError *error) {
        Testbed *t = b->testbed;
        g_autoptr(GError) gerror = NULL;

        const char *dot = strrchr(b->port, '.');
        if (dot) {
                g_autofree char *hub = g_strndup(b->port, dot - b->port);
                int r = testbed_ensure_hub(t, hub, error);
                if (r < 0)
                        return r;
        }
        unsigned devnum = devnum_take(t);
        if (devnum == 0)
                return dfu_error_set(error, ENOSPC, "No USB address left on bus 1 for the board at %s",
                                     b->port);
        g_autofree char *syspath = port_syspath(b->port);
        g_autofree char *devnode = g_strdup_printf("/dev/bus/usb/001/%03u", devnum);
        int r = board_stage(b, syspath, devnode, error);
        if (r < 0) {
                devnum_release(t, devnum);
                return r;
        }

        g_mutex_lock(&b->lock);
        g_autofree char *d =
                device_description(syspath, devnum, b->part->vid, b->part->pid, b->part->bcd_device,
                                   b->part->product, sim_board_serial(b->sim));
        g_free(b->devnode);
        b->devnode = TAKE_PTR(devnode);
        g_free(b->syspath);
        b->syspath = g_build_filename("/sys", syspath, NULL);
        b->devnum = devnum;
        b->plugged = true;
        b->plug_count++;
        b->plugged_at_us = testbed_now_us();
        b->first_dfu_request_us = 0;
        g_mutex_unlock(&b->lock);

        if (!umockdev_testbed_add_from_string(t->umockdev, d, &gerror)) {
                g_mutex_lock(&b->lock);
                b->plugged = false;
                b->devnum = 0;
                g_mutex_unlock(&b->lock);
                (void)umockdev_testbed_detach_ioctl(t->umockdev, b->devnode, NULL);
                devnum_release(t, devnum);
                return dfu_error_set(error, EINVAL, "Cannot add the board at %s: %s", b->port,
                                     gerror->message);
        }
        return 0;
}

/* Main context. "remove" must go out while the sysfs entry still exists. */
static void board_remove_device(TestbedBoard *b) {
        Testbed *t = b->testbed;

        g_mutex_lock(&b->lock);
        g_autofree char *syspath = g_strdup(b->syspath);
        g_autofree char *devnode = g_strdup(b->devnode);
        unsigned devnum = b->devnum;
        b->devnum = 0;
        g_mutex_unlock(&b->lock);
        if (!syspath || devnum == 0)
                return;

        umockdev_testbed_uevent(t->umockdev, syspath, "remove");
        umockdev_testbed_remove_device(t->umockdev, syspath);
        (void)umockdev_testbed_detach_ioctl(t->umockdev, devnode, NULL);
        devnum_release(t, devnum);
}

static gboolean board_replug_cb(gpointer userdata) {
        TestbedBoard *b = userdata;
        DfuError error = DFU_ERROR_INIT;

        g_mutex_lock(&b->lock);
        bool gone = b->gone;
        g_mutex_unlock(&b->lock);
        if (gone)
                return G_SOURCE_REMOVE;
        if (board_plug(b, &error) < 0)
                g_printerr("dfusd-sim: %s\n", dfu_error_message(&error));
        return G_SOURCE_REMOVE;
}

static gboolean board_drop_cb(gpointer userdata) {
        TestbedBoard *b = userdata;

        board_remove_device(b);
        g_mutex_lock(&b->lock);
        bool comes_back = b->comes_back;
        b->comes_back = false;
        g_mutex_unlock(&b->lock);
        if (comes_back) {
                /* A bootloader takes a moment to reset and enumerate again. */
                unsigned ms = (unsigned)CLAMP(200.0 * b->testbed->time_scale, 10.0, 200.0);
                GSource *s = g_timeout_source_new(ms);
                g_source_set_callback(s, board_replug_cb, b, NULL);
                g_source_attach(s, b->testbed->main_context);
                g_source_unref(s);
        }
        return G_SOURCE_REMOVE;
}

void board_set_busy_locked(TestbedBoard *b, bool busy) {
        Testbed *t = b->testbed;

        if (b->busy == busy)
                return;
        b->busy = busy;
        g_mutex_lock(&t->busy_lock);
        if (busy) {
                t->busy_now++;
                t->busy_max = MAX(t->busy_max, t->busy_now);
        } else
                t->busy_now--;
        g_mutex_unlock(&t->busy_lock);
}

bool board_held_locked(TestbedBoard *b) {
        Testbed *t = b->testbed;

        if (!b->busy)
                return false;
        g_mutex_lock(&t->busy_lock);
        bool held = t->busy_max < t->hold_until_busy;
        g_mutex_unlock(&t->busy_lock);
        return held;
}

void testbed_hold_until_busy(Testbed *t, unsigned n) {
        g_mutex_lock(&t->busy_lock);
        t->hold_until_busy = n;
        g_mutex_unlock(&t->busy_lock);
}

unsigned testbed_busy_max(Testbed *t) {
        g_mutex_lock(&t->busy_lock);
        unsigned n = t->busy_max;
        g_mutex_unlock(&t->busy_lock);
        return n;
}

void board_schedule_drop_locked(TestbedBoard *b) {
        if (!b->plugged)
                return;
        b->plugged = false;
        board_set_busy_locked(b, false);
        board_kill_urbs_locked(b, -ESHUTDOWN);
        /* Always deferred (never g_main_context_invoke(), which may run it here, under the lock). */
        GSource *s = g_idle_source_new();
        g_source_set_priority(s, G_PRIORITY_HIGH);
        g_source_set_callback(s, board_drop_cb, b, NULL);
        g_source_attach(s, b->testbed->main_context);
        g_source_unref(s);
}

static gboolean board_timer_cb(gint fd, GIOCondition condition, gpointer userdata) {
        TestbedBoard *b = userdata;
        uint64_t expirations;

        (void)read(fd, &expirations, sizeof(expirations));
        g_mutex_lock(&b->lock);
        board_run_timers_locked(b, testbed_now_us());
        g_mutex_unlock(&b->lock);
        return G_SOURCE_CONTINUE;
}

static TestbedBoard *board_free(TestbedBoard *b) {
        if (!b)
                return NULL;
        if (b->timer_source) {
                g_source_destroy(b->timer_source);
                g_source_unref(b->timer_source);
        }
        board_detach_handler(b);
        Urb *u;
        while ((u = g_queue_pop_head(&b->pending)))
                urb_free(u);
        while ((u = g_queue_pop_head(&b->done)))
                urb_free(u);
        UMockdevIoctlClient *c;
        while ((c = g_queue_pop_head(&b->blocked_reaps)))
                g_object_unref(c);
        g_clear_object(&b->claimed_by);
        safe_close(b->timer_fd);
        safe_close(b->fifo);
        sim_board_free(b->sim);
        g_mutex_clear(&b->lock);
        g_free(b->port);
        g_free(b->syspath);
        g_free(b->devnode);
        return mfree(b);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(TestbedBoard *, board_free);

int testbed_add_board(Testbed *t, const char *port, const PartInfo *part, SimBoard *sim, DfuError *error) {
        if (!testbed_port_valid(port)) {
                sim_board_free(sim);
                return dfu_error_set(error, EINVAL,
                                     "Invalid port path \"%s\": expected 1-N[.N]... with N in 1..31", port);
        }
        if (testbed_find(t, port) || g_hash_table_contains(t->hubs, port)) {
                sim_board_free(sim);
                return dfu_error_set(error, EEXIST, "Port %s is already taken", port);
        }

        _cleanup_(board_freep) TestbedBoard *b = g_new0(TestbedBoard, 1);
        b->testbed = t;
        b->port = g_strdup(port);
        b->part = part;
        b->sim = sim;
        b->fifo = -EBADF;
        b->drop_at = UINT64_MAX;
        g_mutex_init(&b->lock);
        b->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (b->timer_fd < 0)
                return dfu_error_set(error, errno, "Cannot create a timer for %s: %m", port);
        b->timer_source = g_unix_fd_source_new(b->timer_fd, G_IO_IN);
        g_source_set_callback(b->timer_source, G_SOURCE_FUNC(board_timer_cb), b, NULL);
        g_source_set_priority(b->timer_source, G_PRIORITY_HIGH);
        g_source_attach(b->timer_source, t->timer_context);
        board_attach_handler(b);

        int r = board_plug(b, error);
        if (r < 0)
                return r;
        g_ptr_array_add(t->boards, TAKE_PTR(b));
        return 0;
}

int testbed_unplug(Testbed *t, const char *port) {
        TestbedBoard *b = testbed_find(t, port);
        if (!b)
                return -ENOENT;

        g_mutex_lock(&b->lock);
        bool was_plugged = b->plugged;
        b->plugged = false;
        b->gone = true;
        b->drop_at = UINT64_MAX;
        b->comes_back = false;
        board_set_busy_locked(b, false);
        board_kill_urbs_locked(b, -ESHUTDOWN);
        g_mutex_unlock(&b->lock);
        if (!was_plugged)
                return 0; /* already off the bus (or about to be, and then for good) */
        board_remove_device(b);
        return 1;
}

int testbed_replug(Testbed *t, const char *port, DfuError *error) {
        TestbedBoard *b = testbed_find(t, port);
        if (!b)
                return dfu_error_set(error, ENOENT, "No board at %s", port);

        g_mutex_lock(&b->lock);
        bool busy = b->plugged || b->devnum != 0;
        if (!busy) {
                b->gone = false;
                b->comes_back = false;
                b->drop_at = UINT64_MAX;
                sim_board_reset(b->sim);
        }
        g_mutex_unlock(&b->lock);
        if (busy)
                return dfu_error_set(error, EBUSY, "The board at %s is still on the bus", port);
        return board_plug(b, error);
}

int testbed_inject(Testbed *t, const char *port, const SimFaultSpec *f) {
        TestbedBoard *b = testbed_find(t, port);
        if (!b)
                return -ENOENT;
        g_mutex_lock(&b->lock);
        int r = sim_board_inject(b->sim, f);
        g_mutex_unlock(&b->lock);
        return r;
}

TestbedBoard *testbed_find(Testbed *t, const char *port) {
        for (unsigned i = 0; i < t->boards->len; i++) {
                TestbedBoard *b = g_ptr_array_index(t->boards, i);
                if (streq(b->port, port))
                        return b;
        }
        return NULL;
}

unsigned testbed_n_boards(const Testbed *t) {
        return t->boards->len;
}

TestbedBoard *testbed_board(Testbed *t, unsigned i) {
        return i < t->boards->len ? g_ptr_array_index(t->boards, i) : NULL;
}

const char *testbed_board_port(const TestbedBoard *b) {
        return b->port;
}

const PartInfo *testbed_board_part(const TestbedBoard *b) {
        return b->part;
}

bool testbed_board_plugged(TestbedBoard *b) {
        g_mutex_lock(&b->lock);
        bool r = b->plugged;
        g_mutex_unlock(&b->lock);
        return r;
}

unsigned testbed_board_plug_count(TestbedBoard *b) {
        g_mutex_lock(&b->lock);
        unsigned r = b->plug_count;
        g_mutex_unlock(&b->lock);
        return r;
}

void testbed_board_times(TestbedBoard *b, uint64_t *plugged_at_us, uint64_t *first_dfu_request_us) {
        g_mutex_lock(&b->lock);
        *plugged_at_us = b->plugged_at_us;
        *first_dfu_request_us = b->first_dfu_request_us;
        g_mutex_unlock(&b->lock);
}

const SimBoard *testbed_board_sim(const TestbedBoard *b) {
        return b->sim;
}

static gpointer timer_thread(gpointer userdata) {
        Testbed *t = userdata;

        g_main_context_push_thread_default(t->timer_context);
        g_main_loop_run(t->timer_loop);
        g_main_context_pop_thread_default(t->timer_context);
        return NULL;
}

int testbed_new(GMainContext *main_context, double time_scale, Testbed **ret, DfuError *error) {
        _cleanup_(testbed_freep) Testbed *t = g_new0(Testbed, 1);

        const char *preload = g_getenv("LD_PRELOAD");
        if (!preload || !strstr(preload, "libumockdev-preload"))
                return dfu_error_set(
                        error, ENXIO,
                        "Not running under the umockdev preload (LD_PRELOAD=libumockdev-preload.so.0)");
        t->umockdev = umockdev_testbed_new();
        t->root_dir = umockdev_testbed_get_root_dir(t->umockdev);
        t->main_context = g_main_context_ref(main_context);
        t->time_scale = time_scale;
        t->boards = g_ptr_array_new();
        t->hubs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_mutex_init(&t->devnum_lock);
        g_mutex_init(&t->busy_lock);
        t->devnum_used[1] = true; /* the root hub's */
        t->devnum_next = 2;
        t->timer_context = g_main_context_new();
        t->timer_loop = g_main_loop_new(t->timer_context, FALSE);
        t->timer_thread = g_thread_new("sim-timers", timer_thread, t);
        *ret = TAKE_PTR(t);
        return 0;
}

static gboolean quit_cb(gpointer userdata) {
        g_main_loop_quit(userdata);
        return G_SOURCE_REMOVE;
}

Testbed *testbed_free(Testbed *t) {
        if (!t)
                return NULL;
        if (t->timer_thread) {
                g_main_context_invoke(t->timer_context, quit_cb, t->timer_loop);
                g_thread_join(t->timer_thread);
        }
        /* No ioctl may reach a board being freed: cut the handlers, then stop umockdev's worker. */
        for (unsigned i = 0; t->boards && i < t->boards->len; i++)
                board_detach_handler(g_ptr_array_index(t->boards, i));
        g_clear_object(&t->umockdev);
        if (t->boards) {
                for (unsigned i = 0; i < t->boards->len; i++)
                        board_free(g_ptr_array_index(t->boards, i));
                g_ptr_array_free(t->boards, TRUE);
        }
        if (t->hubs)
                g_hash_table_destroy(t->hubs);
        g_free(t->root_dir);
        if (t->timer_loop)
                g_main_loop_unref(t->timer_loop);
        if (t->timer_context)
                g_main_context_unref(t->timer_context);
        if (t->main_context)
                g_main_context_unref(t->main_context);
        g_mutex_clear(&t->devnum_lock);
        g_mutex_clear(&t->busy_lock);
        return mfree(t);
}
