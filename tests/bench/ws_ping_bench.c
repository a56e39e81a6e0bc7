/* ws-ping-bench: signalling throughput and latency of a running gateway.
 *
 * N WebSocket connections to ws://127.0.0.1:PORT/ws (subprotocol tandem.v1)
 * each run JSON-RPC pings in a closed loop: send one, wait for its answer,
 * send the next. One thread on epoll, so with `taskset` the client needs a
 * single core and leaves the other to the gateway. After a warm-up every
 * answer inside the measured window gives one latency sample; the result is
 * one line: clients, requests, rps, p50_us, p99_us, errors (wrong answers
 * and failed connections) and the client's own CPU share.
 *
 * RFC 6455 is implemented here from the RFC, with its own SHA-1 and base64,
 * rather than through libwebsockets, so the bench shares no code (and no
 * bug) with the server it measures and builds with libc alone. Exit status
 * is 1 when a connection fails or any answer is wrong, 2 on bad usage. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SUBPROTOCOL "tandem.v1"
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  /* RFC 6455 section 1.3 */
#define IN_CAP 16384   /* answers to ping are ~40 bytes; anything near this is wrong */
#define OUT_CAP 512    /* the handshake request, or one frame plus a pong */

enum state { CONNECTING, HANDSHAKE, OPEN, DEAD };

struct conn {
	int fd;
	int num;
	enum state state;
	bool want_out;            /* EPOLLOUT armed: a write came up short */
	char accept[32];          /* the Sec-WebSocket-Accept we expect */
	uint64_t id;              /* id of the ping in flight, 0 when idle */
	uint64_t sent_ns;
	size_t in_len, out_len, out_off;
	unsigned char in[IN_CAP];
	unsigned char out[OUT_CAP];
};

static int port = 8088, nclients = 1;
static double seconds = 5, warmup = 1;
static int epfd;
static uint64_t t_measure, t_end, next_id = 1, rng;
static unsigned long errors, requests, lost_samples, failed;
static uint32_t *samples;           /* nanoseconds, clamped to 4.29 s */
static size_t nsamples, samples_cap;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint32_t rol(uint32_t x, int n)
{
	return x << n | x >> (32 - n);
}

static void sha1_block(uint32_t h[5], const unsigned char *p)
{
	static const uint32_t k[4] = { 0x5a827999, 0x6ed9eba1, 0x8f1bbcdc, 0xca62c1d6 };
	uint32_t w[80], v[5], f, t;

	memcpy(v, h, sizeof(v));
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	for (int i = 0; i < 80; i++) {
		f = i < 20 ? (v[1] & v[2]) | (~v[1] & v[3]) :
		    i >= 40 && i < 60 ? (v[1] & v[2]) | (v[1] & v[3]) | (v[2] & v[3]) :
		    v[1] ^ v[2] ^ v[3];
		t = rol(v[0], 5) + f + v[4] + k[i / 20] + w[i];
		memmove(v + 1, v, 4 * sizeof(v[0]));
		v[2] = rol(v[2], 30);
		v[0] = t;
	}
	for (int i = 0; i < 5; i++)
		h[i] += v[i];
}

/* One-shot SHA-1 (FIPS 180-4) of at most 119 bytes, which is all the
 * handshake needs: a 24-character key and the 36-character GUID. */
static void sha1(const void *data, size_t len, unsigned char out[20])
{
	uint32_t h[5] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0 };
	unsigned char buf[128] = { 0 };
	size_t n = len + 9 <= 64 ? 64 : 128;
	uint64_t bits = (uint64_t)len * 8;

	memcpy(buf, data, len);
	buf[len] = 0x80;
	for (int i = 0; i < 8; i++)
		buf[n - 1 - (size_t)i] = (unsigned char)(bits >> (8 * i));
	for (size_t off = 0; off < n; off += 64)
		sha1_block(h, buf + off);
	for (int i = 0; i < 20; i++)
		out[i] = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
}

static void base64(const unsigned char *in, size_t len, char *out)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i;

	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		*out++ = tab[v >> 18];
		*out++ = tab[v >> 12 & 63];
		*out++ = tab[v >> 6 & 63];
		*out++ = tab[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);

		*out++ = tab[v >> 18];
		*out++ = tab[v >> 12 & 63];
		*out++ = i + 1 < len ? tab[v >> 6 & 63] : '=';
		*out++ = '=';
	}
	*out = '\0';
}

/* xorshift64*: RFC 6455 section 5.3 wants unpredictable masks so that
 * hostile page scripts cannot steer bytes on the wire; this client only
 * sends its own fixed text, so a PRNG seeded from getrandom() is enough and
 * keeps a system call off every request. */
static uint32_t mask_key(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545f4914f6cdd1dull) >> 32);
}

static void fail(struct conn *c, const char *why)
{
	if (c->state == DEAD)
		return;
	fprintf(stderr, "ws-ping-bench: connection %d: %s\n", c->num, why);
	c->state = DEAD;
	failed++;
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
}

static void flush(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			fail(c, strerror(errno));
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	/* epoll_ctl only on a change: the common case is a complete write */
	if (c->want_out != (c->out_len > 0)) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		c->want_out = c->out_len > 0;
		if (c->want_out)
			ev.events |= EPOLLOUT;
		epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
	}
}

/* Appends one masked client frame (RFC 6455 section 5.2) to the output. */
static void put_frame(struct conn *c, int opcode, const unsigned char *data, size_t len)
{
	unsigned char *p = c->out + c->out_len;
	uint32_t m = mask_key();

	if (len > 125 || c->out_len + 6 + len > OUT_CAP) {
		fail(c, "outgoing frame does not fit");
		return;
	}
	*p++ = (unsigned char)(0x80 | opcode);
	*p++ = (unsigned char)(0x80 | len);
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(m >> (8 * i));
	for (size_t i = 0; i < len; i++)
		p[4 + i] = data[i] ^ p[i % 4];
	c->out_len += 6 + len;
}

static void send_ping(struct conn *c)
{
	char text[96];
	int n;

	c->id = next_id++;
	n = snprintf(text, sizeof(text), "{\"jsonrpc\":\"2.0\",\"id\":%" PRIu64
		     ",\"method\":\"ping\"}", c->id);
	put_frame(c, 1, (const unsigned char *)text, (size_t)n);
	c->sent_ns = now_ns();
	flush(c);
}

/* Checks that the text is the answer to the ping in flight: it must carry
 * our id and a result. Not a JSON parser: the gateway's answer to ping has
 * exactly one "id" member and an empty result, nothing for a scan to trip on. */
static void answer(struct conn *c, const unsigned char *text, size_t len)
{
	uint64_t now = now_ns(), got = 0;
	const unsigned char *p = memmem(text, len, "\"id\":", 5);
	bool ok = p && memmem(text, len, "\"result\":", 9) && !memmem(text, len, "\"error\"", 7);

	if (ok) {
		const unsigned char *end = text + len;

		for (p += 5; p < end && *p == ' '; p++)
			;
		ok = p < end && *p >= '0' && *p <= '9';
		for (; p < end && *p >= '0' && *p <= '9'; p++)
			got = got * 10 + (uint64_t)(*p - '0');
	}
	if (!c->id || !ok || got != c->id) {
		errors++;
		if (errors <= 5)
			fprintf(stderr, "ws-ping-bench: connection %d: wanted id %" PRIu64
				", got: %.*s\n", c->num, c->id, (int)(len > 200 ? 200 : len),
				(const char *)text);
		if (!c->id)
			return;   /* unasked-for message: keep waiting for ours */
	} else if (c->sent_ns >= t_measure && now <= t_end) {
		requests++;
		if (nsamples < samples_cap)
			samples[nsamples++] = (uint32_t)(now - c->sent_ns > UINT32_MAX ?
							 UINT32_MAX : now - c->sent_ns);
		else
			lost_samples++;
	}
	c->id = 0;
	if (now < t_end)
		send_ping(c);
}

/* Copies the value of header `name` out of a NUL-terminated response head. */
static bool header(const char *head, const char *name, char *val, size_t cap)
{
	size_t nl = strlen(name);

	for (const char *l = strstr(head, "\r\n"); l && l[2]; l = strstr(l + 2, "\r\n")) {
		const char *v = l + 2, *e;

		if (strncasecmp(v, name, nl) || v[nl] != ':')
			continue;
		for (v += nl + 1; *v == ' ' || *v == '\t'; v++)
			;
		e = strstr(v, "\r\n");
		while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		snprintf(val, cap, "%.*s", (int)(e - v), v);
		return true;
	}
	return false;
}

/* The client's checks of RFC 6455 section 4.1, list item "If the server's
 * response is not validated as follows, the client MUST fail". */
static size_t handshake_done(struct conn *c)
{
	unsigned char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
	char head[4096], val[256];
	size_t n;

	n = end ? (size_t)(end - c->in) + 4 : c->in_len;
	if (n >= sizeof(head) || !end) {
		if (n >= sizeof(head))
			fail(c, "handshake answer too long");
		return 0;
	}
	memcpy(head, c->in, n);
	head[n] = '\0';
	if (strncmp(head, "HTTP/1.1 101 ", 13)) {
		fprintf(stderr, "ws-ping-bench: connection %d: %.*s\n", c->num,
			(int)strcspn(head, "\r\n"), head);
		fail(c, "handshake refused");
	} else if (!header(head, "Upgrade", val, sizeof(val)) || strcasecmp(val, "websocket")) {
		fail(c, "no Upgrade: websocket");
	} else if (!header(head, "Connection", val, sizeof(val)) || !strcasestr(val, "upgrade")) {
		fail(c, "no Connection: Upgrade");
	} else if (!header(head, "Sec-WebSocket-Accept", val, sizeof(val)) ||
		   strcmp(val, c->accept)) {
		fail(c, "wrong Sec-WebSocket-Accept");
	} else if (!header(head, "Sec-WebSocket-Protocol", val, sizeof(val)) ||
		   strcmp(val, SUBPROTOCOL)) {
		fail(c, "subprotocol " SUBPROTOCOL " not selected");
	} else {
		c->state = OPEN;
		send_ping(c);
	}
	return n;
}

/* Handles one whole server frame at the start of in; returns its size,
 * 0 when it is not all here yet. */
static size_t frame(struct conn *c, const unsigned char *p, size_t avail)
{
	size_t hdr = 2;
	uint64_t len;
	int opcode;

	if (avail < 2)
		return 0;
	opcode = p[0] & 0x0f;
	len = p[1] & 0x7f;
	if (p[1] & 0x80 || (p[0] & 0x70)) {
		fail(c, "server frame masked or with RSV bits (RFC 6455 section 5.1)");
		return 0;
	}
	if (len >= 126) {
		hdr += len == 126 ? 2 : 8;
		if (avail < hdr)
			return 0;
		len = 0;
		for (size_t i = 2; i < hdr; i++)
			len = len << 8 | p[i];
	}
	if (len > IN_CAP - hdr) {
		fail(c, "frame larger than the bench expects");
		return 0;
	}
	if (avail < hdr + len)
		return 0;
	if (opcode == 1 && (p[0] & 0x80)) {
		answer(c, p + hdr, (size_t)len);
	} else if (opcode == 9) {
		put_frame(c, 10, p + hdr, (size_t)len);
		flush(c);
	} else if (opcode == 8) {
		char why[64];

		snprintf(why, sizeof(why), "closed by the gateway with code %d",
			 len >= 2 ? p[hdr] << 8 | p[hdr + 1] : 1005);
		fail(c, why);
	} else if (opcode != 10) {
		/* the gateway sends every answer as one text frame */
		fail(c, "unexpected fragmented or binary frame");
	}
	return hdr + (size_t)len;
}

static void readable(struct conn *c)
{
	ssize_t n = read(c->fd, c->in + c->in_len, IN_CAP - c->in_len);
	size_t off = 0, used;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		fail(c, n ? strerror(errno) : "closed by the gateway");
		return;
	}
	c->in_len += (size_t)n;
	if (c->state == HANDSHAKE) {
		off = handshake_done(c);
		if (!off)
			return;
	}
	while (c->state == OPEN && (used = frame(c, c->in + off, c->in_len - off)))
		off += used;
	if (c->state == DEAD)
		return;
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
}

static void connected(struct conn *c)
{
	unsigned char key[16], digest[20];
	char b64[32], both[64];
	int err = 0, n;
	socklen_t sl = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl) || err) {
		fail(c, strerror(err ? err : errno));
		return;
	}
	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key)) {
		fail(c, "getrandom failed");
		return;
	}
	base64(key, sizeof(key), b64);
	n = snprintf(both, sizeof(both), "%s%s", b64, WS_GUID);
	sha1(both, (size_t)n, digest);
	base64(digest, sizeof(digest), c->accept);
	n = snprintf((char *)c->out, OUT_CAP,
		     "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
		     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
		     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: " SUBPROTOCOL
		     "\r\n\r\n", port, b64);
	c->out_len = (size_t)n;
	c->state = HANDSHAKE;
	c->want_out = true;   /* registered with EPOLLOUT for the connect */
	flush(c);
}

static int start(struct conn *c)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
	int one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	/* one small frame per round trip: Nagle would only add delay */
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) && errno != EINPROGRESS) {
		close(c->fd);
		return -1;
	}
	c->state = CONNECTING;
	return epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile, in microseconds. */
static unsigned long pct_us(double p)
{
	size_t rank;

	if (!nsamples)
		return 0;
	rank = (size_t)(p / 100 * (double)nsamples + 0.999999);
	return samples[rank ? rank - 1 : 0] / 1000;
}

static int usage(void)
{
	fprintf(stderr, "usage: ws-ping-bench [--clients N] [--seconds S] [--warmup S] "
		"[--port P]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct epoll_event evs[256];
	struct rusage ru;
	struct conn *conns;
	uint64_t t_start;
	double cpu;

	if (argc % 2 == 0)
		return usage();
	for (int i = 1; i < argc; i += 2) {
		char *end;
		double v;

		v = strtod(argv[i + 1], &end);
		if (*end || end == argv[i + 1] || v < 0)
			return usage();
		if (!strcmp(argv[i], "--clients") && v >= 1 && v <= 10000)
			nclients = (int)v;
		else if (!strcmp(argv[i], "--seconds") && v > 0 && v <= 3600)
			seconds = v;
		else if (!strcmp(argv[i], "--warmup") && v <= 3600)
			warmup = v;
		else if (!strcmp(argv[i], "--port") && v >= 1 && v <= 65535)
			port = (int)v;
		else
			return usage();
	}
	if (getrandom(&rng, sizeof(rng), 0) != (ssize_t)sizeof(rng) || !rng)
		rng = now_ns() | 1;
	/* a million answers a second is several times what one core serves;
	 * allocating up front keeps malloc out of the measured loop */
	samples_cap = (size_t)(seconds * 1e6) + 1024;
	samples = malloc(samples_cap * sizeof(*samples));
	conns = calloc((size_t)nclients, sizeof(*conns));
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!samples || !conns || epfd < 0) {
		perror("ws-ping-bench");
		return 1;
	}
	for (int i = 0; i < nclients; i++) {
		conns[i].num = i;
		if (start(&conns[i])) {
			fprintf(stderr, "ws-ping-bench: connection %d: %s\n", i, strerror(errno));
			return 1;
		}
	}
	t_start = now_ns();
	t_measure = t_start + (uint64_t)(warmup * 1e9);
	t_end = t_measure + (uint64_t)(seconds * 1e9);

	for (uint64_t now = now_ns(); now < t_end && failed < (unsigned long)nclients;
	     now = now_ns()) {
		int timeout = (int)((t_end - now) / 1000000) + 1;
		int n = epoll_wait(epfd, evs, 256, timeout);

		if (n < 0 && errno != EINTR) {
			perror("ws-ping-bench: epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (c->state == CONNECTING)
				connected(c);
			else if (c->state != DEAD && evs[i].events & EPOLLOUT)
				flush(c);
			if (c->state != DEAD && c->state != CONNECTING &&
			    evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				readable(c);
		}
	}
	for (int i = 0; i < nclients; i++) {
		static const unsigned char bye[2] = { 0x03, 0xe8 };   /* 1000 */
		struct conn *c = &conns[i];

		if (c->state != OPEN) {
			fail(c, "not open at the end of the run");
			continue;
		}
		/* say goodbye so the gateway logs a close, not a dropped peer */
		put_frame(c, 8, bye, sizeof(bye));
		flush(c);
		close(c->fd);
	}

	qsort(samples, nsamples, sizeof(*samples), cmp_u32);
	/* our own CPU share shows whether the client, not the gateway, was the limit */
	getrusage(RUSAGE_SELF, &ru);
	cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	      (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	printf("clients=%d requests=%lu rps=%.0f p50_us=%lu p99_us=%lu errors=%lu "
	       "client_cpu_pct=%.0f\n", nclients, requests, (double)requests / seconds,
	       pct_us(50), pct_us(99), errors + failed,
	       100 * cpu / ((double)(now_ns() - t_start) / 1e9));
	if (lost_samples)
		fprintf(stderr, "ws-ping-bench: %lu answers past the sample array are counted "
			"but not in the percentiles\n", lost_samples);
	free(samples);
	free(conns);
	close(epfd);
	return errors || failed || !requests ? 1 : 0;
}
