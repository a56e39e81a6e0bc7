/* media-bench: rtpengine's ng control protocol (rtpengine's
 * docs/ng_control_protocol.md): "COOKIE DICT" datagrams over UDP, the
 * dictionary bencoded, the reply echoing the cookie. Only what the bench
 * needs: ping, offer and answer with a fixed set of flags, and the reply's
 * `result`, `sdp` and `error-reason`. Requests are retransmitted with the
 * same cookie (rtpengine answers a repeated cookie from its cache). Main
 * thread, default main context. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib-unix.h>

#include "tests/bench/media_bench.h"

#define RETRY_MS 500
#define TRIES 10
#define MAX_REPLY 65536

struct pending {
	GString *msg;                /* owned: the datagram, for retransmission */
	tnd_mb_ng_reply_h *h;
	void *arg;
	int64_t next_us;
	int tries;
};

struct tnd_mb_ng {
	int fd;
	guint src, timer;
	unsigned long next_cookie;
	GHashTable *pending;         /* owned: cookie -> struct pending */
};

static void pending_free(gpointer p)
{
	struct pending *q = p;

	g_string_free(q->msg, TRUE);
	g_free(q);
}

static void put_str(GString *s, const char *v)
{
	g_string_append_printf(s, "%zu:%s", strlen(v), v);
}

static void put_kv(GString *s, const char *k, const char *v)
{
	put_str(s, k);
	put_str(s, v);
}

/* Steps over one bencoded value at *p (before end); false when malformed. */
static bool step_over(const char **p, const char *end, int depth)
{
	const char *s = *p;

	if (s >= end || depth > 16)
		return false;
	if (*s == 'i') {
		s = memchr(s, 'e', (size_t)(end - s));
		if (!s)
			return false;
		*p = s + 1;
		return true;
	}
	if (*s == 'l' || *s == 'd') {
		for (s++; s < end && *s != 'e';)
			if (!step_over(&s, end, depth + 1))
				return false;
		if (s >= end)
			return false;
		*p = s + 1;
		return true;
	}
	if (*s >= '0' && *s <= '9') {
		size_t n = 0;

		for (; s < end && *s >= '0' && *s <= '9'; s++)
			n = n * 10 + (size_t)(*s - '0');
		if (s >= end || *s != ':' || (size_t)(end - s - 1) < n)
			return false;
		*p = s + 1 + n;
		return true;
	}
	return false;
}

/* Copies the string value of top-level key `key` of the dictionary at
 * [d, end) into a new g_malloc'd string; NULL if absent. */
static char *dict_get(const char *d, const char *end, const char *key)
{
	const char *s = d + 1;
	size_t kl = strlen(key);

	if (d >= end || *d != 'd')
		return NULL;
	while (s < end && *s != 'e') {
		const char *k = s, *v;
		size_t n = 0;

		if (!step_over(&s, end, 0))
			return NULL;
		v = s;
		if (!step_over(&s, end, 0))
			return NULL;
		if (*k < '0' || *k > '9')
			continue;   /* not a string key: step_over() checked only its shape */
		for (; *k != ':'; k++)
			n = n * 10 + (size_t)(*k - '0');
		if (n != kl || memcmp(k + 1, key, kl) || *v < '0' || *v > '9')
			continue;
		n = 0;
		for (; *v != ':'; v++)
			n = n * 10 + (size_t)(*v - '0');
		return g_strndup(v + 1, n);
	}
	return NULL;
}

static void finish(struct tnd_mb_ng *ng, const char *cookie, const char *d, const char *end)
{
	struct pending *q = g_hash_table_lookup(ng->pending, cookie);
	char *result, *sdp, *reason;

	if (!q)
		return;   /* a late answer to a retransmission */
	result = dict_get(d, end, "result");
	sdp = dict_get(d, end, "sdp");
	reason = dict_get(d, end, "error-reason");
	if (result && !strcmp(result, "ok") && sdp)
		q->h(q->arg, sdp, NULL);
	else
		q->h(q->arg, NULL, reason ? reason : result ? result : "unreadable reply");
	g_free(result);
	g_free(sdp);
	g_free(reason);
	g_hash_table_remove(ng->pending, cookie);
}

static gboolean on_readable(gint fd, GIOCondition cond, gpointer data)
{
	struct tnd_mb_ng *ng = data;
	static char buf[MAX_REPLY + 1];

	(void)cond;
	for (;;) {
		ssize_t n = recv(fd, buf, MAX_REPLY, MSG_DONTWAIT);
		char *sp;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		buf[n] = '\0';
		sp = memchr(buf, ' ', (size_t)n);
		if (!sp)
			continue;
		*sp = '\0';
		finish(ng, buf, sp + 1, buf + n);
	}
	return G_SOURCE_CONTINUE;
}

static gboolean on_retry(gpointer data)
{
	struct tnd_mb_ng *ng = data;
	int64_t now = g_get_monotonic_time();
	GHashTableIter it;
	gpointer k, v;
	GSList *dead = NULL;

	g_hash_table_iter_init(&it, ng->pending);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		struct pending *q = v;

		if (q->next_us > now)
			continue;
		if (++q->tries > TRIES) {
			dead = g_slist_prepend(dead, g_strdup(k));
			continue;
		}
		q->next_us = now + RETRY_MS * 1000;
		send(ng->fd, q->msg->str, q->msg->len, 0);
	}
	for (GSList *l = dead; l; l = l->next) {
		struct pending *q = g_hash_table_lookup(ng->pending, l->data);

		q->h(q->arg, NULL, "no reply from rtpengine");
		g_hash_table_remove(ng->pending, l->data);
	}
	g_slist_free_full(dead, g_free);
	return G_SOURCE_CONTINUE;
}

int tnd_mb_ng_request(struct tnd_mb_ng *ng, const char *command, const char *call_id,
		      const char *from_tag, const char *to_tag, const char *sdp,
		      tnd_mb_ng_reply_h *h, void *arg)
{
	struct pending *q;
	GString *s;
	char cookie[32];

	if (!ng || !command || !call_id || !from_tag || !sdp || !h)
		return EINVAL;
	snprintf(cookie, sizeof(cookie), "%lu_mb", ++ng->next_cookie);
	s = g_string_new(cookie);
	g_string_append(s, " d");
	put_kv(s, "command", command);
	put_kv(s, "call-id", call_id);
	put_kv(s, "from-tag", from_tag);
	if (to_tag)
		put_kv(s, "to-tag", to_tag);
	put_kv(s, "sdp", sdp);
	/* The browser offers: rtpengine offers the phone plain RTP/AVP with
	 * no ICE, RTCP on its own port (what a phone expects), and answers
	 * the browser with its own ICE candidate, DTLS-SRTP and rtcp-mux, as
	 * in harness.md section 10 with the roles of the legs reversed. */
	if (!to_tag) {
		put_kv(s, "ICE", "remove");
		put_kv(s, "transport-protocol", "RTP/AVP");
		put_str(s, "rtcp-mux");
		g_string_append(s, "l5:demuxe");
	} else {
		put_kv(s, "ICE", "force");
		put_str(s, "rtcp-mux");
		g_string_append(s, "l6:accepte");
	}
	put_str(s, "flags");
	g_string_append(s, "l13:trust-addresse");
	put_str(s, "replace");
	g_string_append(s, "l6:origin18:session-connectione");
	g_string_append_c(s, 'e');
	q = g_new0(struct pending, 1);
	q->msg = s;
	q->h = h;
	q->arg = arg;
	q->next_us = g_get_monotonic_time() + RETRY_MS * 1000;
	g_hash_table_insert(ng->pending, g_strdup(cookie), q);
	if (send(ng->fd, s->str, s->len, 0) < 0 && errno != EAGAIN && errno != ENOBUFS) {
		g_hash_table_remove(ng->pending, cookie);
		return errno;
	}
	return 0;
}

/* Blocking: before the main loop runs. */
static int ping(int fd, int timeout_ms)
{
	static const char req[] = "0_ping d7:command4:pinge";
	int64_t end = g_get_monotonic_time() + (int64_t)timeout_ms * 1000;
	char buf[256];

	while (g_get_monotonic_time() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		send(fd, req, sizeof(req) - 1, 0);
		if (poll(&p, 1, 200) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (n <= 0)
			continue;   /* ECONNREFUSED while rtpengine starts */
		buf[n] = '\0';
		if (strstr(buf, "4:pong"))
			return 0;
	}
	return ETIMEDOUT;
}

int tnd_mb_ng_open(struct tnd_mb_ng **ngp, int port, int timeout_ms)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct tnd_mb_ng *ng;
	int err = 0, sz = 4 << 20;

	if (!ngp)
		return EINVAL;
	ng = g_new0(struct tnd_mb_ng, 1);
	ng->pending = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, pending_free);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ng->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (ng->fd < 0 || connect(ng->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = errno;
		goto out;
	}
	/* replies carry whole SDPs, many at once during set-up */
	setsockopt(ng->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	err = ping(ng->fd, timeout_ms);
	if (err)
		goto out;
	ng->src = g_unix_fd_add(ng->fd, G_IO_IN, on_readable, ng);
	ng->timer = g_timeout_add(100, on_retry, ng);
 out:
	if (err)
		tnd_mb_ng_close(ng);
	else
		*ngp = ng;
	return err;
}

void tnd_mb_ng_close(struct tnd_mb_ng *ng)
{
	if (!ng)
		return;
	if (ng->src)
		g_source_remove(ng->src);
	if (ng->timer)
		g_source_remove(ng->timer);
	if (ng->fd >= 0)
		close(ng->fd);
	g_hash_table_destroy(ng->pending);
	g_free(ng);
}
