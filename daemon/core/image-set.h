/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "image/image.h"
#include "job-options.h"
#include "macro.h"
#include "spool.h"
#include "trust.h"

/*
 * The images of one Submit, Inspect or AddRule, as file descriptors: the daemon never opens a caller's
 * path. Only regular files and pipes are taken; they are read on a thread with a size cap and a deadline
 * (a pipe that never closes fails the call instead of hanging it), hashed, parsed and merged. Regular
 * files are read from offset 0 whatever their position. With spool set, the bytes of a set that parsed
 * go to the spool, so that queued jobs and rules survive a restart; Inspect spools nothing.
 */

#define IMAGE_SET_MAX_IMAGES 16

/* The detached signatures a caller passed, one per image in order (size 0: none for that image). */
typedef struct ImageSignatures {
        uint8_t *data[IMAGE_SET_MAX_IMAGES];
        size_t size[IMAGE_SET_MAX_IMAGES];
        size_t n;
} ImageSignatures;
void image_signatures_done(ImageSignatures *s);

typedef struct ImageSet {
        int fds[IMAGE_SET_MAX_IMAGES];
        size_t n_fds;
        char **hashes;
        Image *merged;
        bool has_base;
        uint32_t base;
        uint64_t size_cap;
        uint64_t timeout_usec;
        const atomic_bool *stopping; /* the daemon is stopping: give up reading */
        Spool *spool;                /* NULL: do not spool */
        uint64_t spool_size_cap;
        bool claimed; /* its hashes are claimed in the spool until it is freed */
        /* Trust: checked on each image's exact bytes before it is parsed or spooled. */
        TrustMode trust_mode;
        char *trust_dir; /* ApprovedDirectory= or KeyDirectory=, as the mode needs */
        ImageSignatures signatures;
        char *trust_source; /* what accepted the images, NULL with trust off */
        DfuError error;
        int result;
} ImageSet;

/* Takes fds (duplicated by the caller) whatever it returns. */
int image_set_new(int *fds, size_t n_fds, const JobOptions *o, uint64_t size_cap, uint64_t timeout_usec,
                  const atomic_bool *stopping, Spool *spool, uint64_t spool_size_cap, ImageSet **ret);
ImageSet *image_set_free(ImageSet *s);
/* Lets the spool collect the set's files once nothing refers to them; image_set_free() does it too. */
void image_set_unclaim(ImageSet *s);
/* Only images the policy accepts load; sigs (taken, reset) are the caller's signatures. */
int image_set_set_trust(ImageSet *s, TrustMode mode, const char *approved_dir, const char *key_dir,
                        ImageSignatures *sigs);
DEFINE_TRIVIAL_CLEANUP_FUNC(ImageSet *, image_set_free);

/* A TaskRunFn: runs on a thread, touches nothing but the set. */
void image_set_load(void *userdata);

/* Loads and merges images from the spool. Blocking: from a thread. */
int image_set_load_spooled(Spool *spool, uint64_t size_cap, char *const *hashes, const JobOptions *o,
                           Image **ret, DfuError *error);

/* "hash1,hash2": how jobs and rules name their images. */
char *image_set_sha256_summary(char *const *hashes);
