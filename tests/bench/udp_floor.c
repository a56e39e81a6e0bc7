/* udp-floor: what the kernel alone costs a media relay on this machine.
 *
 * N calls of plain UDP, 172-byte datagrams, one each way every 20 ms (as
 * media-bench sends), over 127.0.0.1. A relay thread pinned to CPU 0 does
 * nothing but epoll_wait, recvfrom and sendto on two sockets per call - no
 * SRTP, no parsing, no event library - and a driver thread on CPU 1 sends
 * and reads. Per step it prints the relay thread's CPU share and what it
 * forwarded: a ceiling for any userspace relay with a socket per leg, on
 * this kernel and this virtual machine (docs/benchmarks.md).
 *
 * With UDP_FLOOR_SHARED=1 the relay instead has one socket per side for
 * every call, reads with recvmmsg and sends with sendmmsg in batches, and
 * finds the call by the source port: the floor of a single-port design.
 *
 * usage: udp-floor [seconds per step] [calls ...] */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* pthread_setaffinity_np, CPU_SET */
#endif
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PHASES 20
#define PKT 172

struct call {
	int ra, rb;                     /* relay: browser side, phone side */
	int da, db;                     /* driver: browser, phone (connected) */
	struct sockaddr_in a, b;        /* the driver's addresses */
};

static struct call *calls;
static int ncalls;
static atomic_bool stop;
static bool shared;                /* UDP_FLOOR_SHARED */
static int sa_fd, sb_fd;           /* the shared relay sockets */
static int32_t port_call[65536];   /* driver port -> call, shared mode */
static atomic_long forwarded;
static _Atomic double relay_cpu;   /* the relay thread's CPU seconds, kept current */

static double mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double thread_cpu(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void pin(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	pthread_setaffinity_np(pthread_self(), sizeof(s), &s);
}

static int bound(struct sockaddr_in *out)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(fd, (struct sockaddr *)out, &len)) {
		perror("udp-floor: socket");
		exit(1);
	}
	return fd;
}

#define BATCH 64

/* One batch from a shared socket: each datagram goes out of the other
 * shared socket to the call's other driver socket. */
static int shared_batch(int in, int out, bool phone)
{
	static char bufs[BATCH][2048];
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_in from[BATCH];
	int n, k = 0;

	memset(m, 0, sizeof(m));
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = sizeof(bufs[i]);
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
		m[i].msg_hdr.msg_name = &from[i];
		m[i].msg_hdr.msg_namelen = sizeof(from[i]);
	}
	n = recvmmsg(in, m, BATCH, MSG_DONTWAIT, NULL);
	for (int i = 0; i < n; i++) {
		int32_t c = port_call[ntohs(from[i].sin_port)];

		if (c < 0)
			continue;
		iov[k].iov_base = bufs[i];
		iov[k].iov_len = m[i].msg_len;
		m[k].msg_hdr.msg_iov = &iov[k];
		from[k] = phone ? calls[c].a : calls[c].b;
		m[k].msg_hdr.msg_name = &from[k];
		m[k].msg_hdr.msg_namelen = sizeof(from[k]);
		k++;
	}
	if (k > 0 && sendmmsg(out, m, (unsigned)k, 0) > 0)
		atomic_fetch_add_explicit(&forwarded, k, memory_order_relaxed);
	return n;
}

static void *relay_shared(void *arg)
{
	struct epoll_event ev[2];
	int ep = epoll_create1(0);
	struct epoll_event e = { .events = EPOLLIN };

	(void)arg;
	pin(0);
	e.data.u32 = 0;
	epoll_ctl(ep, EPOLL_CTL_ADD, sa_fd, &e);
	e.data.u32 = 1;
	epoll_ctl(ep, EPOLL_CTL_ADD, sb_fd, &e);
	while (!atomic_load(&stop)) {
		int n = epoll_wait(ep, ev, 2, 20);

		for (int k = 0; k < n; k++)
			if (ev[k].data.u32)
				shared_batch(sb_fd, sa_fd, true);
			else
				shared_batch(sa_fd, sb_fd, false);
		atomic_store(&relay_cpu, thread_cpu());
	}
	close(ep);
	return NULL;
}

static void *relay(void *arg)
{
	struct epoll_event ev[128];
	char buf[2048];
	int ep = epoll_create1(0);

	(void)arg;
	pin(0);
	for (int i = 0; i < ncalls; i++) {
		struct epoll_event e = { .events = EPOLLIN };

		e.data.u64 = (uint64_t)i << 1;
		epoll_ctl(ep, EPOLL_CTL_ADD, calls[i].ra, &e);
		e.data.u64 = (uint64_t)i << 1 | 1;
		epoll_ctl(ep, EPOLL_CTL_ADD, calls[i].rb, &e);
	}
	while (!atomic_load(&stop)) {
		int n = epoll_wait(ep, ev, 128, 20);

		for (int k = 0; k < n; k++) {
			struct call *c = &calls[ev[k].data.u64 >> 1];
			bool phone = ev[k].data.u64 & 1;
			/* one datagram per event, as Tandem's media sockets read */
			ssize_t r = recv(phone ? c->rb : c->ra, buf, sizeof(buf), 0);

			if (r < 0)
				continue;
			sendto(phone ? c->ra : c->rb, buf, (size_t)r, 0,
			       (struct sockaddr *)(phone ? &c->a : &c->b), sizeof(c->a));
			atomic_fetch_add_explicit(&forwarded, 1, memory_order_relaxed);
		}
		atomic_store(&relay_cpu, thread_cpu());
	}
	close(ep);
	return NULL;
}

static void step(int n, double secs)
{
	struct sockaddr_in ra, rb;
	char pkt[PKT] = { (char)0x80 }, buf[2048];
	double t0, next, w0 = 0, c0 = 0, late = 0;
	long f0 = 0, sent0 = 0, sent = 0, got = 0, got0 = 0;
	int ep, phase = 0;
	pthread_t th;

	ncalls = n;
	calls = calloc((size_t)n, sizeof(*calls));
	ep = epoll_create1(0);
	if (!calls || ep < 0)
		exit(1);
	memset(port_call, 0xff, sizeof(port_call));
	if (shared) {
		sa_fd = bound(&ra);
		sb_fd = bound(&rb);
	}
	for (int i = 0; i < n; i++) {
		struct call *c = &calls[i];
		struct epoll_event e = { .events = EPOLLIN };

		c->ra = shared ? -1 : bound(&ra);
		c->rb = shared ? -1 : bound(&rb);
		c->da = bound(&c->a);
		c->db = bound(&c->b);
		connect(c->da, (struct sockaddr *)&ra, sizeof(ra));
		connect(c->db, (struct sockaddr *)&rb, sizeof(rb));
		port_call[ntohs(c->a.sin_port)] = i;
		port_call[ntohs(c->b.sin_port)] = i;
		e.data.fd = c->da;
		epoll_ctl(ep, EPOLL_CTL_ADD, c->da, &e);
		e.data.fd = c->db;
		epoll_ctl(ep, EPOLL_CTL_ADD, c->db, &e);
	}
	atomic_store(&stop, false);
	atomic_store(&forwarded, 0);
	atomic_store(&relay_cpu, 0.0);
	pthread_create(&th, NULL, shared ? relay_shared : relay, NULL);
	t0 = next = mono();
	/* 1 s of warm-up, then the window; the driver spins between sends */
	for (double t = t0; t < t0 + 1 + secs; t = mono()) {
		struct epoll_event ev[128];
		int k;

		if (t >= next) {
			if (t - next > late && w0 > 0)
				late = t - next;
			for (int i = phase; i < n; i += PHASES) {
				sent += send(calls[i].da, pkt, sizeof(pkt), 0) > 0;
				sent += send(calls[i].db, pkt, sizeof(pkt), 0) > 0;
			}
			phase = (phase + 1) % PHASES;
			next += 0.020 / PHASES;
		}
		if (w0 == 0 && t > t0 + 1) {
			w0 = t;
			c0 = atomic_load(&relay_cpu);
			f0 = atomic_load(&forwarded);
			sent0 = sent;
			got0 = got;
		}
		k = epoll_wait(ep, ev, 128, 0);
		for (int j = 0; j < k; j++)
			while (recv(ev[j].data.fd, buf, sizeof(buf), 0) > 0)
				got++;
	}
	{
		double w1 = mono(), c1 = atomic_load(&relay_cpu);
		long f1 = atomic_load(&forwarded);
		double cpu = (c1 - c0) / (w1 - w0) * 100, fwd = (double)(f1 - f0) / (w1 - w0);
		double lost = sent - sent0 > 0 ?
			100.0 * (double)((sent - sent0) - (got - got0)) / (double)(sent - sent0) : 0;

		printf("FLOOR mode=%s calls=%d relay_cpu_pct=%.1f forwarded_per_s=%.0f us_per_packet=%.2f "
		       "calls_per_core=%.0f lost_pct=%.2f driver_late_ms=%.1f\n",
		       shared ? "shared" : "per-call", n, cpu, fwd,
		       fwd > 0 ? (c1 - c0) / (double)(f1 - f0) * 1e6 : 0.0,
		       cpu > 0 ? n / (cpu / 100) : 0.0, lost < 0 ? 0 : lost, late * 1000);
		fflush(stdout);
	}
	atomic_store(&stop, true);
	pthread_join(th, NULL);
	if (shared) {
		close(sa_fd);
		close(sb_fd);
	}
	for (int i = 0; i < n; i++) {
		if (!shared) {
			close(calls[i].ra);
			close(calls[i].rb);
		}
		close(calls[i].da);
		close(calls[i].db);
	}
	close(ep);
	free(calls);
}

int main(int argc, char **argv)
{
	static const int def[] = { 300, 600, 900, 1200, 1500 };
	double secs = argc > 1 ? atof(argv[1]) : 5;
	struct rlimit rl = { 20000, 20000 };

	setrlimit(RLIMIT_NOFILE, &rl);
	shared = getenv("UDP_FLOOR_SHARED") && atoi(getenv("UDP_FLOOR_SHARED"));
	pin(1);
	if (secs <= 0)
		secs = 5;
	if (argc > 2)
		for (int i = 2; i < argc; i++)
			step(atoi(argv[i]), secs);
	else
		for (size_t i = 0; i < sizeof(def) / sizeof(def[0]); i++)
			step(def[i], secs);
	return 0;
}
