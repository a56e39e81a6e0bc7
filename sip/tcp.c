/* SIP over TCP must not be able to use up the process's descriptors (abuse
 * probe rows "SIP TCP CLOSE-WAIT leak", "idle SIP TCP connections",
 * "malformed corpus, TCP"). Signalling thread. SIP over TLS runs on TCP
 * sockets of Sofia's TLS listener ([sip] tls_port), watched the same way:
 * the caps count TCP and TLS connections together.
 *
 * Why this file exists: on a stream, Sofia's tport stops reading a
 * connection after an unparsable message (tport_parse sets tp_recv_close
 * and stalls it) and nta drops the garbage without closing, so the peer's
 * FIN is never read and the socket sits in CLOSE-WAIT until nta's idle
 * timer (30 min by default). Sofia has no hook on accept and no public way
 * to walk its connections, so we watch its sockets ourselves:
 * - before Sofia accepts (our GSource is attached ahead of Sofia's at the
 *   same priority, so it is dispatched first), when the lowest free
 *   descriptor is within `reserve` of RLIMIT_NOFILE, pending connections
 *   are accepted and closed at once: new SIP connections are refused while
 *   the WebSocket and existing calls keep their descriptors;
 * - a sweep (every SWEEP_MS, and on accept at most every KICK_MS) finds
 *   connections on our port: those in CLOSE-WAIT, and those past the total
 *   or per-source cap, get shutdown(SHUT_RDWR). We never close Sofia's
 *   descriptor: the shutdown makes poll report HUP, and Sofia closes and
 *   frees its tport itself. Idle connections are closed by nta's own idle
 *   timer (TPTAG_IDLE, set from [sip] tcp_idle_timeout in ua.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
/* the kernel's tcp_info (glibc's lacks tcpi_data_segs_in) */
#include <linux/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <glib.h>
#include <glib-unix.h>

#include "gateway/base/log.h"
#include "sip/sip_int.h"

#define SWEEP_MS 1000
#define KICK_MS 100
#define SOURCES 1024        /* distinct sources counted per sweep */
#define ACCEPT_BURST 64
#define STATE_CLOSE_WAIT 8          /* TCP_CLOSE_WAIT of the kernel's tcp_states */

struct src_count {
	uint8_t addr[16];
	unsigned n;
};

#define PORTS 2             /* TCP and TLS */

struct tnd_siptcp {
	GSource *watch[PORTS];        /* owned: our listening sockets are readable */
	GSource *timer;               /* owned: the periodic sweep */
	int listen_fd[PORTS];         /* borrowed: Sofia's; -1 none */
	const struct tnd_sipguard *guard; /* borrowed: trusted sources have no per-source cap */
	int port[PORTS];              /* 0 none */
	unsigned max, per_source;
	unsigned idle_ms;             /* 0 off */
	int64_t last_sweep_us;
	unsigned long refused, cut;   /* for log lines */
	struct src_count src[SOURCES];
};

static bool addr_key(const struct sockaddr_storage *ss, uint8_t out[16], int *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &in->sin_addr, 4);
		*port = ntohs(in->sin_port);
		return true;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

		memcpy(out, &in6->sin6_addr, 16);
		*port = ntohs(in6->sin6_port);
		return true;
	}
	return false;
}

/* A connected TCP socket whose local port is ours; its peer in `peer` and
 * `ss`. */
static bool is_ours(const struct tnd_siptcp *t, int fd, uint8_t peer[16],
		    struct sockaddr_storage *pss)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int type = 0, port = 0;
	socklen_t tl = sizeof(type);
	struct stat st;
	uint8_t local[16];

	if (fd == t->listen_fd[0] || fd == t->listen_fd[1] || fstat(fd, &st) ||
	    !S_ISSOCK(st.st_mode))
		return false;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) || type != SOCK_STREAM)
		return false;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) || !addr_key(&ss, local, &port) ||
	    !port || (port != t->port[0] && port != t->port[1]))
		return false;
	len = sizeof(*pss);
	return !getpeername(fd, (struct sockaddr *)pss, &len) && addr_key(pss, peer, &port);
}

static unsigned *count_of(struct tnd_siptcp *t, const uint8_t a[16])
{
	uint32_t h = 2166136261u;

	for (int i = 0; i < 16; i++)
		h = (h ^ a[i]) * 16777619u;
	for (unsigned i = 0; i < 16; i++) {
		struct src_count *s = &t->src[(h + i) % SOURCES];

		if (!s->n) {
			memcpy(s->addr, a, 16);
			return &s->n;
		}
		if (!memcmp(s->addr, a, 16))
			return &s->n;
	}
	return NULL;                  /* table crowded: that source is not capped */
}

/* One pass over our descriptors; see the file comment. */
static void sweep(struct tnd_siptcp *t)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	unsigned total = 0, closing = 0, over = 0;

	t->last_sweep_us = g_get_monotonic_time();
	if (!d)
		return;
	memset(t->src, 0, sizeof(t->src));
	while ((e = readdir(d))) {
		struct tcp_info ti;
		socklen_t tl = sizeof(ti);
		struct sockaddr_storage pss;
		uint8_t peer[16];
		unsigned *n;
		char *end;
		long fd = strtol(e->d_name, &end, 10);

		if (*end || fd < 0 || fd == dirfd(d) || !is_ours(t, (int)fd, peer, &pss))
			continue;
		memset(&ti, 0, sizeof(ti));
		if (getsockopt((int)fd, IPPROTO_TCP, TCP_INFO, &ti, &tl))
			continue;
		if (ti.tcpi_state == STATE_CLOSE_WAIT ||
		    (t->idle_ms && tl > offsetof(struct tcp_info, tcpi_data_segs_in) &&
		     !ti.tcpi_data_segs_in && ti.tcpi_last_data_recv >= t->idle_ms)) {
			/* the peer is gone and Sofia may never read its FIN; or it
			 * never sent a byte, and Sofia's idle timer only starts
			 * with traffic */
			shutdown((int)fd, SHUT_RDWR);
			closing++;
			continue;
		}
		n = tnd_sipguard_trusted(t->guard, (const struct sockaddr *)&pss) ? NULL :
		    count_of(t, peer);
		if ((t->max && total >= t->max) || (n && t->per_source && *n >= t->per_source)) {
			shutdown((int)fd, SHUT_RDWR);
			over++;
			continue;
		}
		total++;
		if (n)
			(*n)++;
	}
	closedir(d);
	t->cut += closing + over;
	if (over)
		TND_LOG_RL(TND_LOG_SIP, NOTICE, "SIP over TCP: %u connections over the caps "
			   "(total %u, per source %u) closed", over, t->max, t->per_source);
	if (closing)
		TND_LOG_RL(TND_LOG_SIP, INFO, "SIP over TCP: %u half-closed or silent connections closed",
			   closing);
}

/* The lowest free descriptor is near the limit: every lower one is in use. */
static bool fds_low(int fd)
{
	struct rlimit rl;
	rlim_t reserve;
	int probe;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY)
		return false;
	reserve = rl.rlim_cur / 8 > 32 ? rl.rlim_cur / 8 : 32;
	probe = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (probe < 0)
		return errno == EMFILE;
	close(probe);
	return (rlim_t)probe + reserve >= rl.rlim_cur;
}

static gboolean on_listen(gint fd, GIOCondition cond, gpointer data)
{
	struct tnd_siptcp *t = data;
	unsigned n = 0;

	if (cond & (G_IO_NVAL | G_IO_ERR)) {
		/* the socket went away under us (Sofia closed it): stop polling */
		TND_LOG_WARN(TND_LOG_SIP, "SIP over TCP: listening socket gone");
		for (int i = 0; i < PORTS; i++) {
			if (t->listen_fd[i] == fd && t->watch[i]) {
				g_source_unref(t->watch[i]);
				t->watch[i] = NULL;
			}
		}
		return G_SOURCE_REMOVE;
	}
	if (fds_low(fd)) {
		/* ours to accept and close: Sofia would take the last descriptors */
		for (; n < ACCEPT_BURST; n++) {
			int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

			if (c < 0)
				break;
			close(c);
		}
		t->refused += n;
		if (n)
			TND_LOG_RL(TND_LOG_SIP, WARN, "descriptors low: refused %u new SIP TCP "
				   "connections (%lu in all)", n, t->refused);
		return G_SOURCE_CONTINUE;
	}
	if (g_get_monotonic_time() - t->last_sweep_us >= KICK_MS * 1000)
		sweep(t);
	return G_SOURCE_CONTINUE;     /* Sofia accepts it next, same iteration */
}

static gboolean on_timer(gpointer data)
{
	sweep(data);
	return G_SOURCE_CONTINUE;
}

/* Sofia's listening socket on `port` */
static int find_listener(int port)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int found = -1;

	if (!d)
		return -1;
	while ((e = readdir(d)) && found < 0) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss), ol;
		uint8_t a[16];
		int lp = 0, on = 0, type = 0;
		char *end;
		long fd = strtol(e->d_name, &end, 10);

		if (*end || fd < 0 || fd == dirfd(d))
			continue;
		ol = sizeof(on);
		if (getsockopt((int)fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &ol) || !on)
			continue;
		ol = sizeof(type);
		if (getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &ol) || type != SOCK_STREAM)
			continue;
		if (!getsockname((int)fd, (struct sockaddr *)&ss, &len) && addr_key(&ss, a, &lp) &&
		    lp == port)
			found = (int)fd;
	}
	closedir(d);
	return found;
}

int tnd_siptcp_alloc(struct tnd_siptcp **tp, GMainContext *ctx, const struct tnd_sip_conf *conf,
		     const struct tnd_sipguard *guard)
{
	struct tnd_siptcp *t;

	if (!tp || !ctx || !conf)
		return EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return ENOMEM;
	t->port[0] = conf->tcp ? conf->port : 0;
	t->port[1] = conf->tls ? conf->tls_port : 0;
	t->guard = guard;
	t->max = conf->tcp_max;
	t->per_source = conf->tcp_max_per_source;
	t->idle_ms = conf->tcp_idle * 1000u;
	for (int i = 0; i < PORTS; i++) {
		/* a TLS connection is a TCP one to Sofia's TLS listener: the
		 * same CLOSE-WAIT, silence and cap rules hold (a TLS peer that
		 * never finishes its handshake never sends SIP either) */
		t->listen_fd[i] = t->port[i] ? find_listener(t->port[i]) : -1;
		if (t->port[i] && t->listen_fd[i] < 0) {
			TND_LOG_WARN(TND_LOG_SIP, "SIP %s: no listening socket on port %d",
				     i ? "TLS" : "TCP", t->port[i]);
			t->port[i] = 0;
		}
		if (t->listen_fd[i] < 0)
			continue;
		t->watch[i] = g_unix_fd_source_new(t->listen_fd[i], G_IO_IN);
		g_source_set_callback(t->watch[i], G_SOURCE_FUNC(on_listen), t, NULL);
		g_source_attach(t->watch[i], ctx);
	}
	if (!t->watch[0] && !t->watch[1]) {
		free(t);
		return ENOENT;
	}
	t->timer = g_timeout_source_new(SWEEP_MS);
	g_source_set_callback(t->timer, on_timer, t, NULL);
	g_source_attach(t->timer, ctx);
	*tp = t;
	return 0;
}

void tnd_siptcp_free(struct tnd_siptcp *t)
{
	if (!t)
		return;
	for (int i = 0; i < PORTS; i++) {
		if (t->watch[i]) {
			g_source_destroy(t->watch[i]);
			g_source_unref(t->watch[i]);
		}
	}
	g_source_destroy(t->timer);
	g_source_unref(t->timer);
	free(t);
}
