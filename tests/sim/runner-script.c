/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The --script file of dfusd-sim: one step per line, '#' starts a comment.
 *
 *   [at SECONDS] plug PORT [part=NAME] [protected]
 *   [at SECONDS] unplug PORT
 *   [at SECONDS] board PORT unplug|hang [phase=P] [after=N]
 *   [at SECONDS] board PORT stall [count=N] [phase=P] [after=N | poll=N]
 *   [at SECONDS] board PORT status errNAME|NUMBER [phase=P] [after=N]
 *   [at SECONDS] release
 *
 * SECONDS count from the start of the command, in wall-clock time (--time-scale does not apply).
 * Steps without "at" happen before the command starts. P is any, erase, write, read or leave: the fault
 * fires at the first request of that phase after N further requests of it (default any, 0); with
 * poll=N, at the Nth GETSTATUS of the phase, whatever the timing (a stall there is what an L4 does
 * to a poll that comes before its erase ends). A board
 * fault acts inside the board; "unplug PORT" pulls the cable whatever the board is doing. "release"
 * lets boards held by --hold-until-busy finish, as if enough of them had been busy.
 */
#include "runner.h" /* first: see testbed.h */

#include <errno.h>
#include <glib.h>
#include <string.h>
#include <strings.h>

static const char *const dfu_status_names[] = {
        "OK",      "errTARGET", "errFILE",    "errWRITE",      "errERASE",    "errCHECK_ERASED",
        "errPROG", "errVERIFY", "errADDRESS", "errNOTDONE",    "errFIRMWARE", "errVENDOR",
        "errUSBR", "errPOR",    "errUNKNOWN", "errSTALLEDPKT",
};

static const char *const phase_names[] = {
        [SIM_PHASE_ANY] = "any",   [SIM_PHASE_ERASE] = "erase", [SIM_PHASE_WRITE] = "write",
        [SIM_PHASE_READ] = "read", [SIM_PHASE_LEAVE] = "leave",
};

typedef struct LineCtx {
        const char *path;
        unsigned line;
        DfuError *error;
} LineCtx;

static int fail(const LineCtx *c, const char *fmt, const char *arg) {
        return dfu_error_set(c->error, EINVAL, "%s:%u: expected %s%s%s%s", c->path, c->line, fmt,
                             arg ? ", got \"" : "", arg ?: "", arg ? "\"" : "");
}

static int parse_uint(const char *s, unsigned *ret) {
        char *end;
        if (!g_ascii_isdigit(*s))
                return -EINVAL;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || *end || v > 1000000)
                return -EINVAL;
        *ret = (unsigned)v;
        return 0;
}

static int parse_status(const char *s, uint8_t *ret) {
        unsigned v;
        for (unsigned i = 0; i < ELEMENTSOF(dfu_status_names); i++)
                if (strcasecmp(s, dfu_status_names[i]) == 0) {
                        *ret = (uint8_t)i;
                        return 0;
                }
        if (parse_uint(s, &v) < 0 || v > 255)
                return -EINVAL;
        *ret = (uint8_t)v;
        return 0;
}

/* The key=value options after a board fault. */
static int parse_fault_options(const LineCtx *c, char **w, ScriptStep *st) {
        for (; *w; w++) {
                const char *eq = strchr(*w, '=');
                const char *v = eq ? eq + 1 : NULL;
                if (!eq)
                        return fail(c, "phase=, after=, poll= or count=", *w);
                if (g_str_has_prefix(*w, "phase=")) {
                        bool found = false;
                        for (unsigned i = 0; i < ELEMENTSOF(phase_names); i++)
                                if (streq(v, phase_names[i])) {
                                        st->fault.phase = (SimPhase)i;
                                        found = true;
                                }
                        if (!found)
                                return fail(c, "phase=any|erase|write|read|leave", *w);
                } else if (g_str_has_prefix(*w, "after=")) {
                        if (parse_uint(v, &st->fault.after) < 0)
                                return fail(c, "after=<number of requests>", *w);
                } else if (g_str_has_prefix(*w, "poll=") && st->fault.fault == SIM_FAULT_STALL) {
                        if (parse_uint(v, &st->fault.after) < 0 || st->fault.after == 0)
                                return fail(c, "poll=<which poll of the phase, from 1>", *w);
                        st->fault.after--;
                        st->fault.polls = true;
                } else if (g_str_has_prefix(*w, "count=") && st->fault.fault == SIM_FAULT_STALL) {
                        if (parse_uint(v, &st->fault.count) < 0 || st->fault.count == 0)
                                return fail(c, "count=<number of stalls, at least 1>", *w);
                } else
                        return fail(c,
                                    st->fault.fault == SIM_FAULT_STALL ? "phase=, after=, poll= or count="
                                                                       : "phase= or after=",
                                    *w);
        }
        return 0;
}

static int parse_board(const LineCtx *c, char **w, ScriptStep *st) {
        st->action = SCRIPT_FAULT;
        st->fault.phase = SIM_PHASE_ANY;
        if (!w[0])
                return fail(c, "a fault after the port (unplug, hang, stall or status)", NULL);
        if (streq(w[0], "unplug"))
                st->fault.fault = SIM_FAULT_UNPLUG;
        else if (streq(w[0], "hang"))
                st->fault.fault = SIM_FAULT_NO_ANSWER;
        else if (streq(w[0], "stall")) {
                st->fault.fault = SIM_FAULT_STALL;
                st->fault.count = 1;
        } else if (streq(w[0], "status")) {
                st->fault.fault = SIM_FAULT_STATUS;
                if (!w[1] || parse_status(w[1], &st->fault.status) < 0 || st->fault.status == 0)
                        return fail(
                                c,
                                "a DFU error status after \"status\" (errTARGET ... errSTALLEDPKT or 1-255)",
                                w[1]);
                w++;
        } else
                return fail(c, "a fault: unplug, hang, stall or status", w[0]);
        return parse_fault_options(c, w + 1, st);
}

static int parse_plug(const LineCtx *c, char **w, ScriptStep *st) {
        st->action = SCRIPT_PLUG;
        for (; *w; w++) {
                if (g_str_has_prefix(*w, "part=")) {
                        st->part = part_find(*w + 5);
                        if (!st->part)
                                return fail(c, "part=<a part the table knows>", *w);
                } else if (streq(*w, "protected"))
                        st->protected_ = true;
                else
                        return fail(c, "part=NAME or protected", *w);
        }
        return 0;
}

static int parse_line(const LineCtx *c, char **w, ScriptStep *st) {
        st->line = c->line;
        if (streq(w[0], "at")) {
                char *end;
                if (!w[1])
                        return fail(c, "seconds after \"at\"", NULL);
                st->at = g_ascii_strtod(w[1], &end);
                if (*end || end == w[1] || !(st->at >= 0 && st->at < 86400))
                        return fail(c, "seconds after \"at\" (a number from 0)", w[1]);
                st->timed = true;
                w += 2;
        }
        if (w[0] && streq(w[0], "release")) {
                st->action = SCRIPT_RELEASE;
                return w[1] ? fail(c, "nothing after release", w[1]) : 0;
        }
        if (!w[0] || !(streq(w[0], "plug") || streq(w[0], "unplug") || streq(w[0], "board")))
                return fail(c, "plug, unplug, board or release", w[0]);
        if (!w[1] || !testbed_port_valid(w[1]))
                return fail(c, "a port path such as 1-3 or 1-9.2", w[1]);
        st->port = g_strdup(w[1]);
        if (streq(w[0], "plug"))
                return parse_plug(c, w + 2, st);
        if (streq(w[0], "board"))
                return parse_board(c, w + 2, st);
        st->action = SCRIPT_UNPLUG;
        return w[2] ? fail(c, "nothing after the port of unplug", w[2]) : 0;
}

int script_parse(const char *path, const char *text, Script **ret, DfuError *error) {
        _cleanup_(script_freep) Script *s = g_new0(Script, 1);
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
        LineCtx c = {.path = path, .error = error};

        for (unsigned i = 0; lines[i]; i++) {
                c.line = i + 1;
                char *hash = strchr(lines[i], '#');
                if (hash)
                        *hash = '\0';
                g_auto(GStrv) words = g_strsplit_set(g_strstrip(lines[i]), " \t", -1);
                g_autofree char **w = g_new0(char *, g_strv_length(words) + 1);
                size_t n = 0;
                for (char **p = words; *p; p++)
                        if (**p)
                                w[n++] = *p;
                if (n == 0)
                        continue;

                s->steps = g_renew(ScriptStep, s->steps, s->n_steps + 1);
                ScriptStep *st = &s->steps[s->n_steps++];
                *st = (ScriptStep){};
                int r = parse_line(&c, w, st);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

int script_load(const char *path, Script **ret, DfuError *error) {
        g_autofree char *text = NULL;
        g_autoptr(GError) gerror = NULL;

        if (!g_file_get_contents(path, &text, NULL, &gerror))
                return dfu_error_set(error, EIO, "Cannot read script %s: %s", path, gerror->message);
        return script_parse(path, text, ret, error);
}

Script *script_free(Script *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_steps; i++)
                g_free(s->steps[i].port);
        g_free(s->steps);
        return mfree(s);
}
