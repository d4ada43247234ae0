/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A job's Progress and ExpectedEndTime against the plan's own estimate: what a job running exactly
 * as the model says expects, how a measured rate moves the end, and the phases' weights. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "parts.h"
#include "progress.h"
#include "time-util.h"

#include "test-main.h"
#include <glib.h>

typedef struct Fixture {
        MemMap *map;
        Image *img;
        const PartInfo *part;
        Plan *plan;
        uint64_t model[_DFUSE_PHASE_MAX]; /* the plan's time per phase */
} Fixture;

/* size bytes at the flash base of part, planned with verify (and the given skips). */
static void fixture_init(Fixture *f, const char *part, uint32_t size, unsigned skip) {
        g_autofree uint8_t *data = g_malloc(size);
        DfuError error = DFU_ERROR_INIT;
        PlanOptions o = {.verify = true, .leave = true, .skip = skip};

        *f = (Fixture){.part = part ? part_find(part) : part_find("h743")};
        g_assert_nonnull(f->part);
        g_assert_cmpint(part_memmap(f->part, &f->map, &error), ==, 0);
        f->img = image_new("test.hex");
        for (uint32_t k = 0; k < size; k++)
                data[k] = (uint8_t)(k * 7);
        g_assert_cmpint(image_add_segment(f->img, f->map->layouts[0].regions[0].address, data, size,
                                          "test.hex", -1, &error),
                        ==, 0);
        /* part NULL: a board the part table does not know, planned without timing. */
        g_assert_cmpint(plan_build(f->img, &f->map->layouts[0], f->part->transfer_size,
                                   part ? f->part : NULL, &o, &f->plan, &error),
                        ==, 0);
        progress_phase_model(f->plan, f->model);
}

static void fixture_done(Fixture *f) {
        plan_free(f->plan);
        memmap_free(f->map);
        image_free(f->img);
}

static ProgressEstimate estimate(const Plan *plan, DfusePhase phase, uint64_t done, uint64_t total,
                                 uint64_t elapsed_usec) {
        ProgressEstimate e;

        progress_estimate(plan, &(ProgressSample){phase, done, total, elapsed_usec}, &e);
        return e;
}

/* Within a microsecond per phase: the estimate goes through doubles. */
#define assert_usec(a, b) g_assert_cmpint(llabs((long long)(a) - (long long)(b)), <=, 4)

static void test_on_model(void) {
        Fixture f;

        /* 900 KiB on an H743: 8 sectors of 128 KiB, about 8.8 s of erase, 4.6 s of writing. */
        fixture_init(&f, "h743", 900 * 1024, 0);
        g_assert_cmpuint(f.plan->n_erases, ==, 8);
        g_assert_cmpuint(f.model[DFUSE_PHASE_READ], ==, 0);
        g_assert_cmpuint(f.model[DFUSE_PHASE_ERASE], ==, f.plan->estimate_erase_ms * USEC_PER_MSEC);
        g_assert_cmpuint(f.model[DFUSE_PHASE_WRITE], ==, f.plan->estimate_write_ms * USEC_PER_MSEC);
        g_assert_cmpuint(f.model[DFUSE_PHASE_VERIFY], ==, f.plan->estimate_verify_ms * USEC_PER_MSEC);
        uint64_t total =
                f.model[DFUSE_PHASE_ERASE] + f.model[DFUSE_PHASE_WRITE] + f.model[DFUSE_PHASE_VERIFY];
        /* The phases add up to the plan's estimate, give or take their rounding to milliseconds. */
        g_assert_cmpuint(total, >=, f.plan->estimate_ms * USEC_PER_MSEC);
        g_assert_cmpuint(total, <, (f.plan->estimate_ms + 3) * USEC_PER_MSEC);

        /* At the start: nothing done, the whole estimate ahead. */
        ProgressEstimate e = estimate(f.plan, DFUSE_PHASE_CONNECT, 0, 0, 0);
        g_assert_cmpfloat(e.progress, ==, 0);
        g_assert_cmpuint(e.remaining_usec, ==, total);

        /*
         * A job that goes exactly at the model's pace: wherever it is, the time spent plus the time
         * left is the plan's estimate, so ExpectedEndTime never moves. Erase counts bytes of sectors
         * here, write and verify bytes of the image.
         */
        static const DfusePhase phases[] = {DFUSE_PHASE_ERASE, DFUSE_PHASE_WRITE, DFUSE_PHASE_VERIFY};
        uint64_t spent = 0, phase_total[] = {8 * 128 * 1024, 900 * 1024, 900 * 1024};
        double last = 0;
        for (size_t i = 0; i < G_N_ELEMENTS(phases); i++) {
                uint64_t pm = f.model[phases[i]];
                for (unsigned k = 0; k <= 8; k++) {
                        uint64_t done = phase_total[i] * k / 8, elapsed = pm * k / 8;

                        e = estimate(f.plan, phases[i], done, phase_total[i], elapsed);
                        assert_usec(spent + elapsed + e.remaining_usec, total);
                        /* Progress is the share of the model's time behind (short of done until the engine
                         * says so): it only grows. */
                        g_assert_cmpfloat(e.progress, >=, last);
                        g_assert_cmpfloat(
                                fabs(e.progress - MIN(0.99, (double)(spent + elapsed) / (double)total)), <,
                                1e-9);
                        last = e.progress;
                }
                spent += pm;
        }
        /* The erase is the longest phase on an H7: when it ends more than half the job is behind. */
        e = estimate(f.plan, DFUSE_PHASE_WRITE, 0, 900 * 1024, 0);
        g_assert_cmpfloat(e.progress, >, 0.5);
        g_assert_cmpfloat(fabs(e.progress - (double)f.model[DFUSE_PHASE_ERASE] / (double)total), <, 1e-9);

        /* Leaving is not shown complete; done is. */
        e = estimate(f.plan, DFUSE_PHASE_LEAVE, 0, 0, 0);
        g_assert_cmpfloat(e.progress, <, 1);
        g_assert_cmpuint(e.remaining_usec, ==, 0);
        e = estimate(f.plan, DFUSE_PHASE_DONE, 900 * 1024, 900 * 1024, 0);
        g_assert_cmpfloat(e.progress, ==, 1);
        g_assert_cmpuint(e.remaining_usec, ==, 0);
        fixture_done(&f);
}

static void test_measured_rate(void) {
        Fixture f;

        fixture_init(&f, "h743", 900 * 1024, 0);
        uint64_t w = f.model[DFUSE_PHASE_WRITE], v = f.model[DFUSE_PHASE_VERIFY];

        /*
         * Half written in the time the model gives the whole write (twice as slow): the rate alone
         * says another w, the model w / 2; half-way through the phase they count alike. Verify
         * keeps its model time: it moves other bytes at another speed.
         */
        ProgressEstimate e = estimate(f.plan, DFUSE_PHASE_WRITE, 450 * 1024, 900 * 1024, w);
        assert_usec(e.remaining_usec, w * 3 / 4 + v);
        /* Near the end of the phase the measurement is nearly all that counts. */
        e = estimate(f.plan, DFUSE_PHASE_WRITE, 810 * 1024, 900 * 1024, 2 * w * 9 / 10);
        g_assert_cmpfloat(fabs((double)e.remaining_usec - (double)(2 * w / 10 * 9 / 10 + w / 10 / 10 + v)),
                          <, (double)w / 100);
        /* Twice as fast: the end comes sooner. */
        e = estimate(f.plan, DFUSE_PHASE_WRITE, 450 * 1024, 900 * 1024, w / 4);
        assert_usec(e.remaining_usec, w / 4 + w / 8 + v);

        /* The same holds for the erase, counted in bytes of the sectors erased. */
        uint64_t er = f.model[DFUSE_PHASE_ERASE];
        e = estimate(f.plan, DFUSE_PHASE_ERASE, 4 * 128 * 1024, 8 * 128 * 1024, er);
        assert_usec(e.remaining_usec, er * 3 / 4 + w + v);
        fixture_done(&f);
}

static void test_mass_erase_and_reads(void) {
        Fixture f;

        /* A phase without a count (a mass erase): its model time, counted from its start. */
        fixture_init(&f, "h743", 64 * 1024, 0);
        uint64_t er = f.model[DFUSE_PHASE_ERASE],
                 after = f.model[DFUSE_PHASE_WRITE] + f.model[DFUSE_PHASE_VERIFY];
        ProgressEstimate e = estimate(f.plan, DFUSE_PHASE_ERASE, 0, 0, er / 4);
        assert_usec(e.remaining_usec, er - er / 4 + after);
        e = estimate(f.plan, DFUSE_PHASE_ERASE, 0, 0, 2 * er);
        assert_usec(e.remaining_usec, after);
        fixture_done(&f);

        /* With skips the sectors are read first, and that reading is part of the estimate. */
        fixture_init(&f, "f405", 64 * 1024, PLAN_SKIP_IDENTICAL);
        g_assert_cmpuint(f.model[DFUSE_PHASE_READ], >, 0);
        g_assert_cmpuint(f.model[DFUSE_PHASE_READ], ==, f.plan->estimate_read_ms * USEC_PER_MSEC);
        e = estimate(f.plan, DFUSE_PHASE_ERASE, 0, 1, 0);
        g_assert_cmpfloat(e.progress, >, 0);
        fixture_done(&f);
}

static void test_unknown_part(void) {
        Fixture f;

        /* No timing: every phase weighed by the bytes it moves, so the figures still go forward. */
        fixture_init(&f, NULL, 256 * 1024, 0);
        g_assert_cmpuint(f.plan->estimate_ms, ==, 0);
        g_assert_cmpuint(f.model[DFUSE_PHASE_WRITE], ==, 256 * 1000);
        g_assert_cmpuint(f.model[DFUSE_PHASE_VERIFY], ==, 256 * 1000);
        g_assert_cmpuint(f.model[DFUSE_PHASE_ERASE], ==, 256 * 1000);
        ProgressEstimate a = estimate(f.plan, DFUSE_PHASE_ERASE, 1, 2, 1000),
                         b = estimate(f.plan, DFUSE_PHASE_WRITE, 1, 2, 1000),
                         c = estimate(f.plan, DFUSE_PHASE_VERIFY, 1, 2, 1000);
        g_assert_cmpfloat(a.progress, <, b.progress);
        g_assert_cmpfloat(b.progress, <, c.progress);
        g_assert_cmpfloat(fabs(b.progress - 0.5), <, 1e-9);

        /* No plan at all (nothing to weigh): nothing to say but that the job runs. */
        ProgressEstimate none = estimate(NULL, DFUSE_PHASE_WRITE, 1, 2, 1000);
        g_assert_cmpfloat(none.progress, ==, 0);
        fixture_done(&f);
}

static void test_phase_names(void) {
        g_assert_cmpstr(progress_phase_to_string(DFUSE_PHASE_CONNECT), ==, "connecting");
        g_assert_cmpstr(progress_phase_to_string(DFUSE_PHASE_READ), ==, "reading");
        g_assert_cmpstr(progress_phase_to_string(DFUSE_PHASE_ERASE), ==, "erasing");
        g_assert_cmpstr(progress_phase_to_string(DFUSE_PHASE_WRITE), ==, "writing");
        g_assert_cmpstr(progress_phase_to_string(DFUSE_PHASE_VERIFY), ==, "verifying");
        g_assert_cmpstr(progress_phase_to_string(DFUSE_PHASE_LEAVE), ==, "leaving");
        g_assert_cmpstr(progress_phase_to_string(DFUSE_PHASE_DONE), ==, "done");
        g_assert_cmpstr(progress_phase_to_string(_DFUSE_PHASE_MAX), ==, "");
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/core/progress/on-model", test_on_model);
        g_test_add_func("/core/progress/measured-rate", test_measured_rate);
        g_test_add_func("/core/progress/mass-erase-and-reads", test_mass_erase_and_reads);
        g_test_add_func("/core/progress/unknown-part", test_unknown_part);
        g_test_add_func("/core/progress/phase-names", test_phase_names);
        return test_run();
}
