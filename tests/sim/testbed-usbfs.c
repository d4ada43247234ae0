/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The usbdevfs side of a simulated board: what the kernel's usbfs would answer to libusb.
 *
 * Control URBs go to the model when submitted; the model says when the answer is ready and the URB
 * becomes reapable then, never sooner. umockdev turns the device node into a regular file, which poll()
 * always reports writable, so an idle libusb would spin on REAPURBNDELAY; the node is a FIFO instead,
 * kept full (not writable) while nothing waits to be reaped and drained (writable, i.e. "URB done"
 * to libusb) while something does.
 */
#include "testbed-private.h" /* first: see testbed.h */

#include <errno.h>
#include <limits.h>
#include <linux/usb/ch9.h>
#include <linux/usbdevice_fs.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>

#define DEFERRED INT_MAX /* the ioctl completes later */

/* A leaving board answers its last request, then drops off the bus this much later. */
#define LEAVE_DROP_US 5000

void urb_free(Urb *u) {
        if (!u)
                return;
        g_clear_object(&u->client);
        g_clear_object(&u->data);
        g_clear_object(&u->buffer);
        g_free(u->answer);
        g_free(u);
}

static bool board_stale(TestbedBoard *b, UMockdevIoctlClient *client) {
        return !b->plugged || !b->devnode || !streq(umockdev_ioctl_client_get_devnode(client), b->devnode);
}

void board_fifo_update_locked(TestbedBoard *b) {
        bool want_full = g_queue_is_empty(&b->done);

        if (b->fifo < 0 || want_full == b->fifo_full)
                return;
        if (want_full) {
                if (write(b->fifo, "", 1) >= 0 || errno == EAGAIN)
                        b->fifo_full = true;
        } else {
                char buf[4096];
                while (read(b->fifo, buf, sizeof(buf)) > 0)
                        ;
                b->fifo_full = false;
        }
}

static void board_arm_timer_locked(TestbedBoard *b) {
        uint64_t next = b->drop_at;
        for (GList *l = b->pending.head; l; l = l->next)
                next = MIN(next, ((Urb *)l->data)->ready_us);

        struct itimerspec its = {};
        if (next != UINT64_MAX) {
                /* it_value 0 disarms: never ask for time 0 */
                next = MAX(next, 1u);
                its.it_value.tv_sec = next / G_USEC_PER_SEC;
                its.it_value.tv_nsec = (next % G_USEC_PER_SEC) * 1000;
        }
        (void)timerfd_settime(b->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* Writes the outcome into the client's struct and buffer; they reach it when the ioctl completes. */
static void urb_store_result(Urb *u) {
        if (u->answer && u->length > 0 && u->buffer)
                memcpy(u->buffer->data + u->offset, u->answer,
                       MIN(u->length, u->buffer->data_len - u->offset));
        if (!u->sync) {
                struct usbdevfs_urb *urb = (struct usbdevfs_urb *)u->data->data;
                urb->status = u->status;
                urb->actual_length = (int)u->length;
        }
}

static int reap_into(Urb *u, UMockdevIoctlClient *client) {
        g_autoptr(UMockdevIoctlData) ptr = NULL;

        ptr = umockdev_ioctl_data_resolve(umockdev_ioctl_client_get_arg(client), 0, sizeof(void *), NULL);
        if (!ptr)
                return -EFAULT;
        urb_store_result(u);
        if (!umockdev_ioctl_data_set_ptr(ptr, 0, u->data))
                return -EFAULT;
        return 0;
}

static Urb *board_take_done_locked(TestbedBoard *b, UMockdevIoctlClient *client) {
        for (GList *l = b->done.head; l; l = l->next) {
                Urb *u = l->data;
                if (u->client == client) {
                        g_queue_delete_link(&b->done, l);
                        return u;
                }
        }
        return NULL;
}

static void board_serve_blocked_reaps_locked(TestbedBoard *b) {
        for (GList *l = b->blocked_reaps.head, *next; l; l = next) {
                UMockdevIoctlClient *client = l->data;
                next = l->next;

                Urb *u = board_take_done_locked(b, client);
                if (!u)
                        continue;
                int r = reap_into(u, client);
                umockdev_ioctl_client_complete(client, r < 0 ? -1 : 0, r < 0 ? -r : 0);
                urb_free(u);
                g_queue_delete_link(&b->blocked_reaps, l);
                g_object_unref(client);
        }
}

/* A finished URB: synchronous requests complete their ioctl, URBs wait for the reap. */
static void board_finish_locked(TestbedBoard *b, Urb *u) {
        if (!u->sync) {
                g_queue_push_tail(&b->done, u);
                return;
        }
        urb_store_result(u);
        if (u->status < 0)
                umockdev_ioctl_client_complete(u->client, -1, -u->status);
        else
                umockdev_ioctl_client_complete(u->client, u->buffer ? (glong)u->length : 0, 0);
        urb_free(u);
}

void board_kill_urbs_locked(TestbedBoard *b, int status) {
        Urb *u;
        while ((u = g_queue_pop_head(&b->pending))) {
                u->status = status;
                u->length = 0;
                board_finish_locked(b, u);
        }
        board_serve_blocked_reaps_locked(b);
        board_fifo_update_locked(b);
}

void board_run_timers_locked(TestbedBoard *b, uint64_t now) {
        for (GList *l = b->pending.head, *next; l; l = next) {
                Urb *u = l->data;
                next = l->next;
                if (u->ready_us > now)
                        continue;
                g_queue_delete_link(&b->pending, l);
                board_finish_locked(b, u);
        }
        if (b->drop_at <= now) {
                b->drop_at = UINT64_MAX;
                board_schedule_drop_locked(b);
        }
        board_serve_blocked_reaps_locked(b);
        board_fifo_update_locked(b);
        board_arm_timer_locked(b);
}

/* Hands one request to the model and queues its answer for the time the model says. */
static void board_submit_locked(TestbedBoard *b, Urb *u, const SimSetup *s, uint8_t *data) {
        uint64_t now = testbed_now_us(), ready = now;
        unsigned events = 0;
        size_t len = s->wLength;
        bool in = s->bmRequestType & USB_DIR_IN;

        if (in && s->wLength > 0)
                u->answer = g_malloc0(s->wLength);
        /* class requests to the interface: the host has started talking DFU (attach latency) */
        if ((s->bmRequestType & 0x60) == 0x20 && b->first_dfu_request_us == 0)
                b->first_dfu_request_us = now;
        if ((s->bmRequestType & 0x60) == 0x20 && s->bRequest == 1 /* DFU_DNLOAD */ && s->wLength > 0)
                board_set_busy_locked(b, true);
        sim_board_hold(b->sim, board_held_locked(b));
        SimResult r = sim_board_control(b->sim, s, in ? u->answer : data, &len, now, &ready, &events);
        ready = MAX(ready, now);
        u->ready_us = ready;
        switch (r) {
        case SIM_OK:
                u->status = 0;
                u->length = MIN(len, (size_t)s->wLength);
                break;
        case SIM_STALL:
                u->status = -EPIPE;
                break;
        case SIM_NO_ANSWER:
                u->ready_us = UINT64_MAX;
                u->status = -ETIMEDOUT; /* seen only by a synchronous request with a timeout */
                break;
        case SIM_DISCONNECT:
                u->status = -ESHUTDOWN;
                b->drop_at = MIN(b->drop_at, ready);
                b->comes_back = events & SIM_EVENT_RESET;
                break;
        }
        if (r != SIM_DISCONNECT && (events & (SIM_EVENT_LEAVE | SIM_EVENT_RESET))) {
                b->drop_at = MIN(b->drop_at, ready + LEAVE_DROP_US);
                b->comes_back = events & SIM_EVENT_RESET;
        }
        g_queue_push_tail(&b->pending, u);
        board_run_timers_locked(b, now);
}

static Urb *urb_new(UMockdevIoctlClient *client, UMockdevIoctlData *data, UMockdevIoctlData *buffer,
                    size_t offset, bool sync) {
        Urb *u = g_new0(Urb, 1);
        u->client = g_object_ref(client);
        u->data = g_object_ref(data);
        u->buffer = buffer ? g_object_ref(buffer) : NULL;
        u->offset = offset;
        u->sync = sync;
        return u;
}

static void setup_decode(SimSetup *s, const uint8_t *p) {
        s->bmRequestType = p[0];
        s->bRequest = p[1];
        s->wValue = (uint16_t)(p[2] | p[3] << 8);
        s->wIndex = (uint16_t)(p[4] | p[5] << 8);
        s->wLength = (uint16_t)(p[6] | p[7] << 8);
}

static int do_submiturb(TestbedBoard *b, UMockdevIoctlClient *client, UMockdevIoctlData *arg) {
        g_autoptr(UMockdevIoctlData) d = NULL, buf = NULL;
        SimSetup s;

        d = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_urb), NULL);
        if (!d)
                return -EFAULT;
        struct usbdevfs_urb *urb = (struct usbdevfs_urb *)d->data;
        if (urb->type != USBDEVFS_URB_TYPE_CONTROL || (urb->endpoint & 0x7f) != 0)
                return -ENOENT; /* a bootloader has no endpoint but 0 */
        if (urb->buffer_length < 8)
                return -EINVAL;
        buf = umockdev_ioctl_data_resolve(d, offsetof(struct usbdevfs_urb, buffer), urb->buffer_length,
                                          NULL);
        if (!buf)
                return -EFAULT;
        setup_decode(&s, buf->data);
        if ((size_t)urb->buffer_length < 8u + s.wLength)
                return -EINVAL;

        board_submit_locked(b, urb_new(client, d, buf, 8, false), &s, buf->data + 8);
        return 0;
}

static int do_control(TestbedBoard *b, UMockdevIoctlClient *client, UMockdevIoctlData *arg) {
        g_autoptr(UMockdevIoctlData) d = NULL, buf = NULL;

        d = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_ctrltransfer), NULL);
        if (!d)
                return -EFAULT;
        struct usbdevfs_ctrltransfer *c = (struct usbdevfs_ctrltransfer *)d->data;
        SimSetup s = {c->bRequestType, c->bRequest, c->wValue, c->wIndex, c->wLength};
        uint32_t timeout_ms = c->timeout;
        if (s.wLength > 0) {
                buf = umockdev_ioctl_data_resolve(d, offsetof(struct usbdevfs_ctrltransfer, data), s.wLength,
                                                  NULL);
                if (!buf)
                        return -EFAULT;
        }

        Urb *u = urb_new(client, d, buf, 0, true);
        board_submit_locked(b, u, &s, buf ? buf->data : NULL);
        /* A request the board never answers times out as the kernel would; u is still queued. */
        if (u->ready_us == UINT64_MAX && timeout_ms > 0) {
                u->ready_us = testbed_now_us() + (uint64_t)timeout_ms * 1000;
                board_arm_timer_locked(b);
        }
        return DEFERRED;
}

/* Selecting an alternate setting is a standard request on the wire: the model sees it as one. */
static int do_setinterface(TestbedBoard *b, UMockdevIoctlClient *client, UMockdevIoctlData *arg) {
        g_autoptr(UMockdevIoctlData) d = NULL;

        d = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_setinterface), NULL);
        if (!d)
                return -EFAULT;
        const struct usbdevfs_setinterface *si = (const struct usbdevfs_setinterface *)d->data;
        SimSetup s = {USB_RECIP_INTERFACE, USB_REQ_SET_INTERFACE, (uint16_t)si->altsetting,
                      (uint16_t)si->interface, 0};

        board_submit_locked(b, urb_new(client, d, NULL, 0, true), &s, NULL);
        return DEFERRED;
}

static int do_claim(TestbedBoard *b, UMockdevIoctlClient *client, UMockdevIoctlData *arg, bool claim,
                    size_t size) {
        g_autoptr(UMockdevIoctlData) d = NULL;

        d = umockdev_ioctl_data_resolve(arg, 0, size, NULL);
        if (!d)
                return -EFAULT;
        if (*(const unsigned *)d->data != 0)
                return -ENOENT; /* the bootloader has one interface */

        if (b->claimed_by && !umockdev_ioctl_client_get_connected(b->claimed_by))
                g_clear_object(&b->claimed_by);
        if (!claim) {
                if (b->claimed_by != client)
                        return -EINVAL;
                g_clear_object(&b->claimed_by);
                return 0;
        }
        if (b->claimed_by && b->claimed_by != client)
                return -EBUSY;
        if (!b->claimed_by)
                b->claimed_by = g_object_ref(client);
        return 0;
}

/* URBs of a process that went away would keep the FIFO drained, and every other client spinning. */
static void board_purge_vanished_locked(TestbedBoard *b) {
        GQueue *queues[] = {&b->done, &b->pending};

        for (unsigned i = 0; i < ELEMENTSOF(queues); i++)
                for (GList *l = queues[i]->head, *next; l; l = next) {
                        Urb *u = l->data;
                        next = l->next;
                        if (umockdev_ioctl_client_get_connected(u->client))
                                continue;
                        g_queue_delete_link(queues[i], l);
                        urb_free(u);
                }
        board_fifo_update_locked(b);
}

static int do_reap(TestbedBoard *b, UMockdevIoctlClient *client, bool block) {
        Urb *u = board_take_done_locked(b, client);
        if (!u) {
                if (!g_queue_is_empty(&b->done))
                        board_purge_vanished_locked(b);
                if (board_stale(b, client))
                        return -ENODEV;
                if (!block)
                        return -EAGAIN;
                g_queue_push_tail(&b->blocked_reaps, g_object_ref(client));
                return DEFERRED;
        }
        int r = reap_into(u, client);
        urb_free(u);
        board_fifo_update_locked(b);
        return r;
}

static int do_discard(TestbedBoard *b, UMockdevIoctlClient *client, UMockdevIoctlData *arg) {
        gulong addr = *(const gulong *)arg->data;

        for (GList *l = b->pending.head; l; l = l->next) {
                Urb *u = l->data;
                if (u->client != client || u->sync || u->data->client_addr != addr)
                        continue;
                g_queue_delete_link(&b->pending, l);
                u->status = -ENOENT;
                u->length = 0;
                board_finish_locked(b, u);
                board_serve_blocked_reaps_locked(b);
                board_fifo_update_locked(b);
                board_arm_timer_locked(b);
                return 0;
        }
        return -EINVAL;
}

static int do_info(TestbedBoard *b, gulong request, UMockdevIoctlData *arg) {
        g_autoptr(UMockdevIoctlData) d = NULL;

        if (request == USBDEVFS_GET_CAPABILITIES) {
                d = umockdev_ioctl_data_resolve(arg, 0, sizeof(uint32_t), NULL);
                if (!d)
                        return -EFAULT;
                *(uint32_t *)d->data = USBDEVFS_CAP_ZERO_PACKET | USBDEVFS_CAP_BULK_CONTINUATION |
                                       USBDEVFS_CAP_NO_PACKET_SIZE_LIM | USBDEVFS_CAP_REAP_AFTER_DISCONNECT;
                return 0;
        }
        d = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_connectinfo), NULL);
        if (!d)
                return -EFAULT;
        struct usbdevfs_connectinfo *ci = (struct usbdevfs_connectinfo *)d->data;
        ci->devnum = b->devnum;
        ci->slow = 0;
        return 0;
}

static int board_ioctl_locked(TestbedBoard *b, UMockdevIoctlClient *client, gulong request,
                              UMockdevIoctlData *arg) {
        switch (request) {
        case USBDEVFS_REAPURB:
        case USBDEVFS_REAPURBNDELAY:
                return do_reap(b, client, request == USBDEVFS_REAPURB);
        case USBDEVFS_DISCARDURB:
                return do_discard(b, client, arg);
        }
        if (board_stale(b, client))
                return -ENODEV;

        switch (request) {
        case USBDEVFS_SUBMITURB:
                return do_submiturb(b, client, arg);
        case USBDEVFS_CONTROL:
                return do_control(b, client, arg);
        case USBDEVFS_SETINTERFACE:
                return do_setinterface(b, client, arg);
        case USBDEVFS_CLAIMINTERFACE:
        case USBDEVFS_RELEASEINTERFACE:
                return do_claim(b, client, arg, request == USBDEVFS_CLAIMINTERFACE, sizeof(unsigned));
        case USBDEVFS_DISCONNECT_CLAIM:
                return do_claim(b, client, arg, true, sizeof(struct usbdevfs_disconnect_claim));
        case USBDEVFS_GET_CAPABILITIES:
        case USBDEVFS_CONNECTINFO:
                return do_info(b, request, arg);
        case USBDEVFS_GET_SPEED:
                return USB_SPEED_FULL;
        case USBDEVFS_GETDRIVER:
        case USBDEVFS_IOCTL:
                return -ENODATA; /* no kernel driver is bound to a DFU interface */
        case USBDEVFS_SETCONFIGURATION:
        case USBDEVFS_CLEAR_HALT:
        case USBDEVFS_RESETEP:
        case USBDEVFS_RESET:
                return 0;
        default:
                return -ENOTTY;
        }
}

static gboolean on_handle_ioctl(UMockdevIoctlBase *handler, UMockdevIoctlClient *client, gpointer userdata) {
        TestbedBoard *b = userdata;
        gulong request = umockdev_ioctl_client_get_request(client);
        UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);

        g_mutex_lock(&b->lock);
        int r = board_ioctl_locked(b, client, request, arg);
        g_mutex_unlock(&b->lock);

        if (r == DEFERRED)
                return TRUE;
        if (r < 0)
                umockdev_ioctl_client_complete(client, -1, -r);
        else
                umockdev_ioctl_client_complete(client, r, 0);
        return TRUE;
}

void board_attach_handler(TestbedBoard *b) {
        if (!b->handler) {
                b->handler = umockdev_ioctl_base_new();
                b->handler_id = g_signal_connect(b->handler, "handle-ioctl", G_CALLBACK(on_handle_ioctl), b);
        }
}

void board_detach_handler(TestbedBoard *b) {
        if (!b->handler)
                return;
        g_signal_handler_disconnect(b->handler, b->handler_id);
        g_clear_object(&b->handler);
}
