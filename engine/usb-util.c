/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfuse-internal.h"

static const char *const phase_names[_DFUSE_PHASE_MAX] = {
        [DFUSE_PHASE_CONNECT] = "connect", [DFUSE_PHASE_READ] = "read",     [DFUSE_PHASE_ERASE] = "erase",
        [DFUSE_PHASE_WRITE] = "write",     [DFUSE_PHASE_VERIFY] = "verify", [DFUSE_PHASE_LEAVE] = "leave",
        [DFUSE_PHASE_DONE] = "done",
};

const char *dfuse_phase_to_string(DfusePhase p) {
        return (unsigned)p < _DFUSE_PHASE_MAX ? phase_names[p] : "unknown";
}

static const char *const state_names[] = {
        "appIDLE",        "appDETACH",        "dfuIDLE",     "dfuDNLOAD-SYNC",         "dfuDNBUSY",
        "dfuDNLOAD-IDLE", "dfuMANIFEST-SYNC", "dfuMANIFEST", "dfuMANIFEST-WAIT-RESET", "dfuUPLOAD-IDLE",
        "dfuERROR",
};

const char *dfu_state_to_string(uint8_t state) {
        return state < ELEMENTSOF(state_names) ? state_names[state] : "unknown state";
}

static const char *const status_names[] = {
        "OK",      "errTARGET", "errFILE",    "errWRITE",      "errERASE",    "errCHECK_ERASED",
        "errPROG", "errVERIFY", "errADDRESS", "errNOTDONE",    "errFIRMWARE", "errVENDOR",
        "errUSBR", "errPOR",    "errUNKNOWN", "errSTALLEDPKT",
};

const char *dfu_status_to_string(uint8_t status) {
        return status < ELEMENTSOF(status_names) ? status_names[status] : "unknown status";
}

int dfu_status_decode(const uint8_t *buf, size_t len, DfuStatus *ret) {
        if (len < 6)
                return -EBADMSG;
        *ret = (DfuStatus){
                .status = buf[0],
                .poll_timeout_ms = (uint32_t)buf[1] | (uint32_t)buf[2] << 8 | (uint32_t)buf[3] << 16,
                .state = buf[4],
                .string_index = buf[5],
        };
        return 0;
}

int usb_port_path_parse(const char *s, uint8_t *ret_bus, uint8_t *ports, size_t max_ports) {
        const char *p = s;
        size_t n = 0;
        unsigned long v;
        char *end;

        if (!s || !isdigit((unsigned char)*p))
                return -EINVAL;
        errno = 0;
        v = strtoul(p, &end, 10);
        if (errno || v == 0 || v > 255 || *end != '-')
                return -EINVAL;
        *ret_bus = (uint8_t)v;
        p = end + 1;

        for (;;) {
                if (!isdigit((unsigned char)*p))
                        return -EINVAL;
                v = strtoul(p, &end, 10);
                if (v == 0 || v > 255)
                        return -EINVAL;
                if (n >= max_ports)
                        return -E2BIG;
                ports[n++] = (uint8_t)v;
                if (*end == 0)
                        return (int)n;
                if (*end != '.')
                        return -EINVAL;
                p = end + 1;
        }
}

int usb_port_path_format(uint8_t bus, const uint8_t *ports, size_t n_ports, char *buf, size_t size) {
        size_t k;
        int n;

        n = snprintf(buf, size, "%u", bus);
        if (n < 0 || (size_t)n >= size)
                return -ENOBUFS;
        k = (size_t)n;
        for (size_t i = 0; i < n_ports; i++) {
                n = snprintf(buf + k, size - k, "%c%u", i == 0 ? '-' : '.', ports[i]);
                if (n < 0 || (size_t)n >= size - k)
                        return -ENOBUFS;
                k += (size_t)n;
        }
        return 0;
}

int libusb_error_to_errno(int r) {
        switch (r) {
        case LIBUSB_ERROR_IO:
                return -EIO;
        case LIBUSB_ERROR_INVALID_PARAM:
                return -EINVAL;
        case LIBUSB_ERROR_ACCESS:
                return -EACCES;
        case LIBUSB_ERROR_NO_DEVICE:
                return -ENODEV;
        case LIBUSB_ERROR_NOT_FOUND:
                return -ENOENT;
        case LIBUSB_ERROR_BUSY:
                return -EBUSY;
        case LIBUSB_ERROR_TIMEOUT:
                return -ETIMEDOUT;
        case LIBUSB_ERROR_OVERFLOW:
                return -EOVERFLOW;
        case LIBUSB_ERROR_PIPE:
                return -EPIPE;
        case LIBUSB_ERROR_INTERRUPTED:
                return -EINTR;
        case LIBUSB_ERROR_NO_MEM:
                return -ENOMEM;
        case LIBUSB_ERROR_NOT_SUPPORTED:
                return -EOPNOTSUPP;
        default:
                return r < 0 ? -EIO : r;
        }
}

uint64_t now_us(void) {
        struct timespec ts;

        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
