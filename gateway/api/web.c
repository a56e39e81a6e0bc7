/* Serving the softphone page (issue 12 item 2) on the WebSocket port: a
 * plain GET or HEAD that is neither the WebSocket path nor a health probe
 * is looked up in the embedded file table (web_int.h). The headers keep
 * the page safe to open: a Content-Security-Policy that allows scripts,
 * styles and connections from this origin only (no inline script, no CDN,
 * no framing), nosniff so a browser trusts only our MIME types, and
 * no-cache so a gateway upgrade is seen at the next load. Signalling
 * thread; read-only data. */
#include <stdio.h>
#include <string.h>

#include "gateway/api/web_int.h"

/* 'self' covers ws: and wss: to this host and port (CSP level 3), which is
 * where the page's WebSocket goes; media-src blob: for recorded audio. */
#define WEB_CSP "default-src 'none'; script-src 'self'; style-src 'self'; " \
	"img-src 'self' data:; media-src 'self' blob:; connect-src 'self'; " \
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

const struct tnd_web_file *tnd_web_find(const char *target)
{
	size_t n;

	if (!target || target[0] != '/')
		return NULL;
	n = strcspn(target, "?#");
	if (n == 1) {
		target = "/index.html";
		n = strlen(target);
	}
	for (const struct tnd_web_file *f = tnd_web_files; f->path; f++)
		if (strlen(f->path) == n && !strncmp(f->path, target, n))
			return f;
	return NULL;
}

size_t tnd_web_head(const struct tnd_web_file *f, char *buf, size_t size)
{
	int n;

	if (!f || !buf)
		return 0;
	n = snprintf(buf, size, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n"
		     "Content-Length: %zu\r\nContent-Security-Policy: " WEB_CSP "\r\n"
		     "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n"
		     "X-Frame-Options: DENY\r\nCache-Control: no-cache\r\n"
		     "Connection: close\r\n\r\n", f->mime, f->len);
	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}
