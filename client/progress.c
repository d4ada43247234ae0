/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifdef DFUSCTL_HAVE_BUS

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "output.h"
#include "progress.h"

#define ANSI_GREEN  "\033[0;32m"
#define ANSI_RED    "\033[0;31m"
#define ANSI_YELLOW "\033[0;33m"
#define ANSI_BLUE   "\033[0;34m"
#define ANSI_RESET  "\033[0m"
#define BAR_WIDTH   20

void progress_init(Progress *p, FILE *out) {
        const char *term = getenv("TERM");
        const char *no_color = getenv("NO_COLOR");

        *p = (Progress){.out = out};
        p->tty = isatty(fileno(out)) && !(term && streq(term, "dumb"));
        /* https://no-color.org: any non-empty value turns colour off. */
        p->color = p->tty && !(no_color && no_color[0]);
}

void format_timestamp(char *buf, size_t size, uint64_t realtime_usec) {
        time_t t = (time_t)(realtime_usec / 1000000);
        struct tm tm;

        if (realtime_usec == 0 || !localtime_r(&t, &tm) ||
            strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
                snprintf(buf, size, "-");
}

const char *job_label(json_object *props) {
        const char *port = json_get_str(props, "PortPath", "");

        if (port[0])
                return port;
        port = json_get_str(props, "Target", "");
        return port[0] ? port : "(any board)";
}

bool job_state_is_final(const char *state) {
        return state && (streq(state, "done") || streq(state, "failed") || streq(state, "cancelled"));
}

const char *state_color(const Progress *p, const char *state) {
        if (!p->color || !state)
                return "";
        if (streq(state, "done") || streq(state, "idle"))
                return ANSI_GREEN;
        if (streq(state, "failed") || streq(state, "error"))
                return ANSI_RED;
        if (streq(state, "cancelled") || streq(state, "waiting") || streq(state, "queued"))
                return ANSI_YELLOW;
        return ANSI_BLUE;
}

const char *color_reset(const Progress *p) {
        return p->color ? ANSI_RESET : "";
}

static uint64_t now_realtime_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Time left, from the daemon's estimate: its timing model of the plan knows that an erase goes
 * at another pace than a write, which the bytes counted here cannot tell. */
static bool job_eta(json_object *props, uint64_t *ret_usec) {
        uint64_t expected = json_get_u64(props, "ExpectedEndTime"), now = now_realtime_usec();

        if (expected == 0)
                return false;
        *ret_usec = expected > now ? expected - now : 0;
        return true;
}

/* "done in 5.3 s (170 KiB/s)": from the job's times and the bytes it wrote; "done" without times. */
static void format_done(json_object *props, char *buf, size_t size) {
        uint64_t start = json_get_u64(props, "StartTime"), end = json_get_u64(props, "EndTime"),
                 bytes = json_get_u64(props, "BytesTotal");
        char took[32], rate[32];

        if (start == 0 || end < start) {
                snprintf(buf, size, "done");
                return;
        }
        format_duration_ms((end - start) / 1000, took);
        if (end > start && bytes > 0) {
                format_bytes(bytes * 1000000 / (end - start), rate);
                snprintf(buf, size, "done in %s (%s/s)", took, rate);
        } else
                snprintf(buf, size, "done in %s", took);
}

void progress_format_phase(json_object *props, char *buf, size_t size) {
        const char *state = json_get_str(props, "State", "queued"),
                   *phase = json_get_str(props, "Phase", "");
        uint64_t done = json_get_u64(props, "PhaseDone"), total = json_get_u64(props, "PhaseTotal");
        char d[32], t[32];

        if (streq(state, "done")) {
                format_done(props, buf, size);
                return;
        }
        /* A job that stopped says where; one that never ran has no phase. */
        if (job_state_is_final(state) || !phase[0]) {
                if (job_state_is_final(state) && phase[0] && !streq(phase, "done"))
                        snprintf(buf, size, "%s while %s", state, phase);
                else
                        snprintf(buf, size, "%s", state);
                return;
        }
        if (total == 0)
                snprintf(buf, size, "%s", phase);
        else if (streq(phase, "erasing"))
                snprintf(buf, size, "erasing %" PRIu64 "/%" PRIu64 " sector%s", done, total,
                         total == 1 ? "" : "s");
        else {
                format_bytes(done, d);
                format_bytes(total, t);
                snprintf(buf, size, "%s %s / %s", phase, d, t);
        }
}

void progress_format_line(const Progress *p, json_object *props, char *buf, size_t size) {
        const char *state = json_get_str(props, "State", "queued"),
                   *phase = json_get_str(props, "Phase", "");
        double fraction = json_get_double(props, "Progress");
        char what[64], rate[40] = "", eta[40] = "", bar[BAR_WIDTH + 1];
        uint64_t eta_usec;
        unsigned filled;

        if (fraction < 0)
                fraction = 0;
        if (fraction > 1)
                fraction = 1;
        filled = (unsigned)(fraction * BAR_WIDTH + 0.5);
        for (unsigned i = 0; i < BAR_WIDTH; i++)
                bar[i] = i < filled ? '#' : '.';
        bar[BAR_WIDTH] = '\0';
        progress_format_phase(props, what, sizeof what);
        /* Bytes per second mean something while bytes move; an erase is counted in sectors. */
        if (json_get_u64(props, "Rate") > 0 && !job_state_is_final(state) &&
            (streq(phase, "reading") || streq(phase, "writing") || streq(phase, "verifying"))) {
                char r[32];

                format_bytes(json_get_u64(props, "Rate"), r);
                snprintf(rate, sizeof rate, "%s/s", r);
        }
        if (!job_state_is_final(state) && job_eta(props, &eta_usec)) {
                char d[32];

                format_duration_ms(eta_usec / 1000, d);
                snprintf(eta, sizeof eta, "ETA %s", d);
        }
        /* The bar is the whole job, not the phase beside it: said so, as "job". */
        snprintf(buf, size, "%-12s %s%-30s%s job [%s] %3.0f%%  %s  %s", job_label(props),
                 state_color(p, state), what, color_reset(p), bar, fraction * 100, rate, eta);
}

static void pipe_lines(Progress *p, JobView *jobs, size_t n) {
        for (size_t i = 0; i < n; i++) {
                JobView *j = jobs + i;
                const char *state = json_get_str(j->props, "State", "queued");

                /* Final states are printed by progress_finish(), with the outcome. */
                if (job_state_is_final(state) || j->completed)
                        continue;
                if (j->printed_state && streq(j->printed_state, state))
                        continue;
                fprintf(p->out, "%s: %s\n", job_label(j->props), state);
                free(j->printed_state);
                j->printed_state = strdup(state);
        }
        fflush(p->out);
}

void progress_update(Progress *p, JobView *jobs, size_t n) {
        char line[256];

        if (!p->tty) {
                pipe_lines(p, jobs, n);
                return;
        }
        if (p->lines_drawn > 0)
                fprintf(p->out, "\033[%uA", p->lines_drawn);
        for (size_t i = 0; i < n; i++) {
                progress_format_line(p, jobs[i].props, line, sizeof line);
                fprintf(p->out, "\r\033[K%s\n", line);
        }
        p->lines_drawn = (unsigned)n;
        fflush(p->out);
}

/* ", serial=1000 mac=02:80:E1:00:00:01": the per-board values the job wrote. */
static void print_values(FILE *f, json_object *props) {
        json_object *values;

        if (!json_object_object_get_ex(props, "Values", &values) ||
            !json_object_is_type(values, json_type_array))
                return;
        for (size_t i = 0; i < json_object_array_length(values); i++) {
                json_object *pair = json_object_array_get_idx(values, i);
                fprintf(f, "%s%s=%s", i == 0 ? ", " : " ",
                        json_object_get_string(json_object_array_get_idx(pair, 0)),
                        json_object_get_string(json_object_array_get_idx(pair, 1)));
        }
}

void progress_finish(Progress *p, JobView *jobs, size_t n) {
        if (p->tty)
                progress_update(p, jobs, n);
        for (size_t i = 0; i < n; i++) {
                JobView *j = jobs + i;
                const char *state = json_get_str(j->props, "State", j->success ? "done" : "failed");
                char size[32], done[80];

                if (j->success) {
                        format_bytes(json_get_u64(j->props, "BytesTotal"), size);
                        format_done(j->props, done, sizeof done);
                        fprintf(p->out, "%s: %s%s%s, %s written", job_label(j->props),
                                state_color(p, "done"), done, color_reset(p), size);
                        print_values(p->out, j->props);
                        fputc('\n', p->out);
                } else
                        fprintf(p->out, "%s: %s%s%s: %s\n", job_label(j->props), state_color(p, state),
                                state, color_reset(p),
                                j->message && j->message[0] ? j->message : "no reason given");
        }
        fflush(p->out);
}

#endif
