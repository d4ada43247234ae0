/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * dfusctl's exit codes, one list for every verb (documented in `dfusctl --help`). Scripts test
 * these, so a value never changes meaning once released.
 */
enum {
        EXIT_ACCEPTED = 0,     /* success: the image was accepted / the command did what was asked */
        EXIT_REJECTED = 1,     /* the image was rejected (a segment cannot be placed safely) */
        EXIT_USAGE = 2,        /* bad command line, or nothing to act on: no such job, rule or port, or a
                                * job to cancel that has already ended */
        EXIT_IO = 3,           /* a file could not be read, parsed or written */
        EXIT_NO_BOARD = 4,     /* no board matched */
        EXIT_BOARD_FAILED = 5, /* a board failed its job */
        EXIT_NO_DAEMON = 6,    /* the daemon could not be reached */
        EXIT_CANCELLED = 7,    /* a job was cancelled */
        EXIT_STREAM = 8,       /* the files sent by dfusctl -H arrived cut short or malformed */
};
