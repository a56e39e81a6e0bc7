/* Private to gateway/api: the softphone page's files (web/), embedded in the
 * binary at build time (contrib/embed-web.sh writes web_files.c), and the
 * HTTP answer that serves one. Only names in the table can be served, so no
 * request path ever reaches the file system (no traversal to guard). Read
 * only data: any thread. */
#ifndef TND_GATEWAY_API_WEB_INT_H
#define TND_GATEWAY_API_WEB_INT_H

#include <stdbool.h>
#include <stddef.h>

/* One embedded file; static storage, never freed. */
struct tnd_web_file {
	const char *path;                /* "/index.html" */
	const char *mime;                /* Content-Type */
	const unsigned char *data;
	size_t len;
};

/* The table, ended by a row whose path is NULL (web_files.c, generated). */
extern const struct tnd_web_file tnd_web_files[];

/* Room for any header block tnd_web_head writes. */
#define TND_WEB_HEAD_MAX 1024

/* The file a request target names ("/" is "/index.html", a query string
 * is ignored), or NULL. target is NUL-terminated. */
const struct tnd_web_file *tnd_web_find(const char *target);
/* Writes the 200 response's status line and headers (MIME type,
 * Content-Length, Content-Security-Policy without inline script, nosniff,
 * Connection: close) into buf; returns the length, 0 if it does not fit.
 * The body (f->data, none for HEAD) follows it on the wire. */
size_t tnd_web_head(const struct tnd_web_file *f, char *buf, size_t size);

#endif
