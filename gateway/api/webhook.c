/* The call events' webhook: a minimal HTTP/1.1 client (RFC 9112) that
 * POSTs each event as JSON to [events] webhook, one request per
 * connection, from a thread of its own.
 *
 * The signalling thread only links a body into a bounded queue (when full
 * the oldest waiting one is dropped and counted), so a slow, hung or dead
 * receiver never holds up a call. Events go out in order: the thread
 * retries the oldest (back-off from 0.25 s, doubling to 10 s, [events]
 * retries times) before it takes the next. Every step of an attempt
 * (resolve, connect, send, status line) shares one deadline of [events]
 * timeout. Only the status line of the answer is read: 2xx is delivered,
 * anything else failed. The lock is never held across I/O. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/api/api_int.h"
#include "gateway/base/log.h"

#define BACKOFF_FIRST_MS 250
#define BACKOFF_MAX_MS 10000
#define STATUS_MAX 1024

struct tnd_webhook {
	GMutex lock;
	GCond cond;
	GQueue q;                    /* LOCK: lock; owned char * bodies, oldest first */
	char *url;                   /* LOCK: lock; owned */
	unsigned max, timeout_ms, retries;   /* LOCK: lock */
	bool stop;                   /* LOCK: lock */
	int busy_fd;                 /* LOCK: lock; the attempt's socket, or -1 */
	struct tnd_webhook_stats st; /* LOCK: lock */
	GThread *thread;             /* owned */
};

int tnd_webhook_parse_url(const char *url, char *host, size_t hostlen, char *port,
			  size_t portlen, const char **path)
{
	const char *h, *end, *colon;
	size_t n;

	if (!url || strncmp(url, "http://", 7))
		return EINVAL;
	h = url + 7;
	end = h + strcspn(h, "/?#");
	*path = *end == '/' ? end : "/";
	if (*h == '[') {
		/* RFC 3986 IP-literal */
		const char *close = memchr(h, ']', (size_t)(end - h));

		if (!close)
			return EINVAL;
		n = (size_t)(close - h - 1);
		colon = close[1] == ':' ? close + 1 : NULL;
		if (close + 1 != end && !colon)
			return EINVAL;
		h++;
	} else {
		colon = memchr(h, ':', (size_t)(end - h));
		n = (size_t)((colon ? colon : end) - h);
	}
	if (!n || n >= hostlen)
		return EINVAL;
	memcpy(host, h, n);
	host[n] = '\0';
	if (colon) {
		size_t pn = (size_t)(end - colon - 1);

		if (!pn || pn >= portlen || strspn(colon + 1, "0123456789") < pn)
			return EINVAL;
		memcpy(port, colon + 1, pn);
		port[pn] = '\0';
		if (atoi(port) < 1 || atoi(port) > 65535)
			return EINVAL;
	} else {
		snprintf(port, portlen, "80");
	}
	return 0;
}

int tnd_webhook_status(const char *buf, size_t len, int *status)
{
	static const char ver[] = "HTTP/1.";
	size_t i;

	/* RFC 9112 4: HTTP-version SP 3DIGIT SP [reason] CRLF */
	for (i = 0; i < len && i < sizeof(ver) - 1; i++)
		if (buf[i] != ver[i])
			return EBADMSG;
	if (len < 13)
		return EAGAIN;
	if ((buf[7] != '0' && buf[7] != '1') || buf[8] != ' ' ||
	    buf[9] < '1' || buf[9] > '5' || buf[10] < '0' || buf[10] > '9' ||
	    buf[11] < '0' || buf[11] > '9' || (buf[12] != ' ' && buf[12] != '\r'))
		return EBADMSG;
	for (i = 12; i < len; i++) {
		if (buf[i] == '\n') {
			*status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
			return 0;
		}
		if ((unsigned char)buf[i] < 0x20 && buf[i] != '\r' && buf[i] != '\t')
			return EBADMSG;
	}
	return len >= STATUS_MAX ? EBADMSG : EAGAIN;
}

/* ------------------------------------------------------------ one attempt */

static int ms_left(gint64 deadline)
{
	gint64 left = (deadline - g_get_monotonic_time()) / 1000;

	return left > 0 ? (int)left : 0;
}

static int wait_fd(int fd, short ev, gint64 deadline)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int r;

	do {
		r = poll(&p, 1, ms_left(deadline));
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno;
	if (r == 0)
		return ETIMEDOUT;
	return 0;
}

static int connect_to(struct tnd_webhook *wh, const char *host, const char *port,
		      gint64 deadline, int *fdp)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	int fd, err, soerr = 0;
	socklen_t sl = sizeof(soerr);

	/* names resolve here, on this thread; IP literals are the usual case */
	if (getaddrinfo(host, port, &hints, &ai) || !ai)
		return EHOSTUNREACH;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno;
		freeaddrinfo(ai);
		return err;
	}
	g_mutex_lock(&wh->lock);
	wh->busy_fd = fd;
	g_mutex_unlock(&wh->lock);
	err = connect(fd, ai->ai_addr, ai->ai_addrlen) ? errno : 0;
	freeaddrinfo(ai);
	if (err == EINPROGRESS) {
		err = wait_fd(fd, POLLOUT, deadline);
		if (!err && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0)
			err = soerr;
	}
	*fdp = fd;
	return err;
}

static int send_all(int fd, const char *s, size_t n, gint64 deadline)
{
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			int err = wait_fd(fd, POLLOUT, deadline);

			if (err)
				return err;
			continue;
		}
		if (w <= 0)
			return w < 0 ? errno : EPIPE;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_status(int fd, gint64 deadline, int *status)
{
	char buf[STATUS_MAX];
	size_t len = 0;
	int err = EAGAIN;

	while (err == EAGAIN && len < sizeof(buf)) {
		ssize_t r;

		err = wait_fd(fd, POLLIN, deadline);
		if (err)
			return err;
		r = recv(fd, buf + len, sizeof(buf) - len, 0);
		if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
			err = EAGAIN;
			continue;
		}
		if (r <= 0)
			return r < 0 ? errno : ECONNRESET;
		len += (size_t)r;
		err = tnd_webhook_status(buf, len, status);
	}
	return err == EAGAIN ? EBADMSG : err;
}

/* One POST of body; 0 when the receiver answered 2xx. */
static int post(struct tnd_webhook *wh, const char *url, unsigned timeout_ms,
		const char *body, int *status)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	char host[256], port[8], *head;
	const char *path;
	int fd = -1, err;

	*status = 0;
	err = tnd_webhook_parse_url(url, host, sizeof(host), port, sizeof(port), &path);
	if (err)
		return err;
	err = connect_to(wh, host, port, deadline, &fd);
	if (!err) {
		head = g_strdup_printf("POST %s HTTP/1.1\r\nHost: %s%s%s%s:%s\r\n"
				       "User-Agent: Tandem\r\nContent-Type: application/json\r\n"
				       "Content-Length: %zu\r\nConnection: close\r\n\r\n",
				       path, strchr(host, ':') ? "[" : "", host,
				       strchr(host, ':') ? "]" : "", "", port, strlen(body));
		err = send_all(fd, head, strlen(head), deadline);
		g_free(head);
	}
	if (!err)
		err = send_all(fd, body, strlen(body), deadline);
	if (!err)
		err = read_status(fd, deadline, status);
	if (!err && (*status < 200 || *status > 299))
		err = EPROTO;
	g_mutex_lock(&wh->lock);
	wh->busy_fd = -1;
	g_mutex_unlock(&wh->lock);
	if (fd >= 0)
		close(fd);
	return err;
}

/* ------------------------------------------------------------ the thread */

static gpointer sender(gpointer data)
{
	struct tnd_webhook *wh = data;
	unsigned attempt = 0, backoff = BACKOFF_FIRST_MS;
	char *body = NULL, *url;
	unsigned timeout_ms, retries;
	int err, status;

	g_mutex_lock(&wh->lock);
	for (;;) {
		while (!body && !wh->q.length && !wh->stop)
			g_cond_wait(&wh->cond, &wh->lock);
		if (wh->stop)
			break;
		if (!body) {
			body = g_queue_pop_head(&wh->q);
			attempt = 0;
			backoff = BACKOFF_FIRST_MS;
		}
		url = g_strdup(wh->url);
		timeout_ms = wh->timeout_ms;
		retries = wh->retries;
		g_mutex_unlock(&wh->lock);

		err = *url ? post(wh, url, timeout_ms, body, &status) : ECANCELED;
		g_mutex_lock(&wh->lock);
		if (!err) {
			wh->st.posted++;
		} else if (attempt < retries && err != ECANCELED && !wh->stop) {
			gint64 until = g_get_monotonic_time() + (gint64)backoff * 1000;

			TND_LOG_RL(TND_LOG_API, NOTICE, "webhook %s: %s (HTTP %d); retry %u in "
				   "%u ms", url, strerror(err), status, attempt + 1, backoff);
			g_free(url);
			wh->st.retries++;
			attempt++;
			backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
			/* woken early only by stop */
			while (!wh->stop && g_cond_wait_until(&wh->cond, &wh->lock, until))
				;
			continue;
		} else {
			wh->st.failed++;
			TND_LOG_RL(TND_LOG_API, WARN, "webhook %s: event dropped after %u "
				   "attempt(s): %s", url, attempt + 1, strerror(err));
		}
		g_free(url);
		free(body);
		body = NULL;
	}
	g_mutex_unlock(&wh->lock);
	free(body);
	return NULL;
}

int tnd_webhook_alloc(struct tnd_webhook **whp)
{
	struct tnd_webhook *wh;

	if (!whp)
		return EINVAL;
	wh = calloc(1, sizeof(*wh));
	if (!wh)
		return ENOMEM;
	g_mutex_init(&wh->lock);
	g_cond_init(&wh->cond);
	g_queue_init(&wh->q);
	wh->url = g_strdup("");
	wh->max = 1000;
	wh->timeout_ms = 5000;
	wh->busy_fd = -1;
	wh->thread = g_thread_new("webhook", sender, wh);
	*whp = wh;
	return 0;
}

void tnd_webhook_set(struct tnd_webhook *wh, const char *url, unsigned max,
		     unsigned timeout_ms, unsigned retries)
{
	g_mutex_lock(&wh->lock);
	g_free(wh->url);
	wh->url = g_strdup(url);
	wh->max = max ? max : 1;
	wh->timeout_ms = timeout_ms;
	wh->retries = retries;
	g_mutex_unlock(&wh->lock);
}

void tnd_webhook_post(struct tnd_webhook *wh, char *body)
{
	char *old = NULL;

	g_mutex_lock(&wh->lock);
	if (wh->q.length >= wh->max) {
		old = g_queue_pop_head(&wh->q);
		wh->st.dropped++;
	}
	g_queue_push_tail(&wh->q, body);
	g_cond_signal(&wh->cond);
	g_mutex_unlock(&wh->lock);
	if (old) {
		TND_LOG_RL(TND_LOG_API, WARN, "webhook: queue full ([events] queue = %u): oldest "
			   "event dropped", wh->max);
		free(old);
	}
}

void tnd_webhook_get_stats(struct tnd_webhook *wh, struct tnd_webhook_stats *st)
{
	g_mutex_lock(&wh->lock);
	*st = wh->st;
	st->queued = wh->q.length;
	g_mutex_unlock(&wh->lock);
}

void tnd_webhook_free(struct tnd_webhook *wh, unsigned grace_ms)
{
	gint64 until = g_get_monotonic_time() + (gint64)grace_ms * 1000;

	if (!wh)
		return;
	/* what is queued gets `grace_ms` to go out, then whatever is under way
	 * is cut short (shutdown wakes its poll at once) */
	g_mutex_lock(&wh->lock);
	while (wh->q.length && g_get_monotonic_time() < until) {
		g_mutex_unlock(&wh->lock);
		g_usleep(10000);
		g_mutex_lock(&wh->lock);
	}
	wh->stop = true;
	if (wh->busy_fd >= 0)
		shutdown(wh->busy_fd, SHUT_RDWR);
	g_cond_signal(&wh->cond);
	g_mutex_unlock(&wh->lock);
	g_thread_join(wh->thread);
	if (wh->q.length || wh->st.dropped || wh->st.failed)
		TND_LOG_WARN(TND_LOG_API, "webhook: %lu posted, %lu dropped (queue full), %lu "
			     "failed, %u left unsent at exit", wh->st.posted, wh->st.dropped,
			     wh->st.failed, wh->q.length);
	g_queue_clear_full(&wh->q, free);
	g_free(wh->url);
	g_cond_clear(&wh->cond);
	g_mutex_clear(&wh->lock);
	free(wh);
}
