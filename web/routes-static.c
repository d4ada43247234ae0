/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "routes.h"
#include "web.h"

static const struct {
        const char *suffix, *type;
} types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".png", "image/png"},
        {".svg", "image/svg+xml"},
        {".ico", "image/x-icon"},
};

/* The pages have names of their own; everything else is a file in the directory, by a plain name. */
static const char *file_name(const char *path) {
        static const struct {
                const char *path, *file;
        } pages[] = {
                {"/", "index.html"},
                {"/jobs", "pages.html"},
                {"/rules", "pages.html"},
                {"/history", "pages.html"},
        };

        for (size_t i = 0; i < ELEMENTSOF(pages); i++)
                if (streq(path, pages[i].path))
                        return pages[i].file;
        if (strncmp(path, "/static/", 8) != 0)
                return NULL;
        path += 8;
        /* No '/', no leading '.': nothing outside the directory, no dot files, whatever the URL. */
        if (!path[0] || path[0] == '.' ||
            strspn(path, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
                    strlen(path))
                return NULL;
        return path;
}

enum MHD_Result routes_static(Request *r, const char *path) {
        const char *name = file_name(path), *type = NULL;
        _cleanup_close_ int dirfd = -EBADF, fd = -EBADF;
        struct MHD_Response *resp;
        enum MHD_Result ret;
        struct stat st;

        if (!streq(r->method, "GET") && !streq(r->method, "HEAD"))
                return http_reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method-not-allowed",
                                        "%s is not allowed here.", r->method);
        if (!name)
                return http_reply_error(r, MHD_HTTP_NOT_FOUND, "not-found", "No such page.");
        for (size_t i = 0; i < ELEMENTSOF(types); i++) {
                size_t n = strlen(name), m = strlen(types[i].suffix);
                if (n > m && streq(name + n - m, types[i].suffix))
                        type = types[i].type;
        }
        if (!type)
                return http_reply_error(r, MHD_HTTP_NOT_FOUND, "not-found", "No such page.");
        dirfd = open(r->web->config.static_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd >= 0)
                fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return http_reply_error(r, MHD_HTTP_NOT_FOUND, "not-found", "No such page.");
        /* the pages carry no data: they load it from the API, which checks the token */
        resp = MHD_create_response_from_fd64((uint64_t)st.st_size, fd);
        if (!resp)
                return MHD_NO;
        TAKE_FD(fd);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        http_add_common_headers(resp);
        ret = MHD_queue_response(r->conn, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        r->answered = true;
        return ret;
}
