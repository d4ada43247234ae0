/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The files `dfusctl -H HOST` hands to the dfusctl on HOST, framed on ssh's standard input, since
 * file descriptors cannot cross ssh. Little-endian throughout:
 *
 *   magic "DFUSCTL" 0x0a, version u32 (1), count u32,
 *   then per file: size u64, name length u16, name (no NUL, no '/'), size bytes.
 *
 * Nothing follows the last file. The reader puts each file into a sealed memfd, bounded by the caps
 * below before anything is allocated for it.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define IMAGE_STREAM_MAGIC     "DFUSCTL\n"
#define IMAGE_STREAM_MAGIC_LEN 8
#define IMAGE_STREAM_VERSION   1u
/* 16 images (one D-Bus message carries at most 16 descriptors), a signature for each, one list. */
#define IMAGE_STREAM_FILES_MAX 33u
/* A base name: NAME_MAX. */
#define IMAGE_STREAM_NAME_MAX 255u

typedef struct ImageStreamFile {
        char *name;    /* the base name: for messages, and the name the remote command line uses */
        int fd;        /* reading: a sealed memfd; writing: read with pread() from offset 0 */
        uint64_t size; /* bytes */
} ImageStreamFile;

/* A name the stream may carry: 1 to IMAGE_STREAM_NAME_MAX bytes, no '/', not "." or "..". */
bool image_stream_name_valid(const char *name);

/* Writes the stream: every file's size bytes from offset 0. A file that has fewer bytes than its size
 * by now is an error. Returns 0 or a negative errno (-EPIPE: the reader went away), with error saying
 * which file where there is more to say than the errno. */
int image_stream_write(int out, const ImageStreamFile *files, size_t n, DfuError *error);

/* Reads a whole stream, files of up to size_cap bytes each, and checks that nothing follows it.
 * Returns 0, or a negative errno with error saying what was expected where ("file 2 of 3 (app.hex):
 * stream ended after 1024 of 4096 bytes"). */
int image_stream_read(int in, uint64_t size_cap, ImageStreamFile **ret, size_t *ret_n, DfuError *error);

/* Copies all of in (a pipe, a terminal...) into a new sealed memfd of at most size_cap bytes;
 * -EFBIG beyond that. Returns the memfd or a negative errno. */
int image_stream_memfd_from(int in, uint64_t size_cap, const char *name, uint64_t *ret_size);

/* A new descriptor of the file called name, at offset 0; -ENOENT when none is. */
int image_stream_open(const ImageStreamFile *files, size_t n, const char *name);

void image_stream_files_free(ImageStreamFile *files, size_t n);
