/* media-bench: the echo that stands in for the relay with --target loop.
 *
 * To measure the driver's own ceiling the relay must cost less per packet
 * than the driver. This thread, pinned to CPU 0 where the relay would run,
 * has one UDP socket on 127.0.0.1 and sends every datagram back to where it
 * came from, in batches of up to 64 (recvmmsg, sendmmsg): no parsing, no
 * SRTP, no socket per call, udp-floor's cheapest relay (UDP_FLOOR_SHARED).
 * The browser hears its own SRTP back and the phone its own RTP, so the
 * driver does exactly its usual work for every call. The thread keeps its
 * CPU time current for the driver's samples; it runs until the process
 * ends. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* pthread_setaffinity_np, recvmmsg */
#endif
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/bench/media_bench.h"

#define BATCH 64

static int efd = -1;
static _Atomic double cpu_s;

static double thread_cpu(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *echo_main(void *arg)
{
	static uint8_t bufs[BATCH][2048];
	struct sockaddr_in from[BATCH];
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	struct pollfd p = { .fd = efd, .events = POLLIN };
	cpu_set_t set;

	(void)arg;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	for (;;) {
		int n;

		if (poll(&p, 1, 100) < 0 && errno != EINTR)
			break;
		do {
			for (int i = 0; i < BATCH; i++) {
				iov[i].iov_base = bufs[i];
				iov[i].iov_len = sizeof(bufs[i]);
				m[i].msg_hdr = (struct msghdr){
					.msg_name = &from[i], .msg_namelen = sizeof(from[i]),
					.msg_iov = &iov[i], .msg_iovlen = 1,
				};
			}
			n = recvmmsg(efd, m, BATCH, MSG_DONTWAIT, NULL);
			/* back to each sender: the names recvmmsg filled in */
			for (int i = 0; i < n; i++)
				iov[i].iov_len = m[i].msg_len;
			for (int done = 0; done < n;) {
				int k = sendmmsg(efd, m + done, (unsigned)(n - done), 0);

				done += k > 0 ? k : 1;
			}
		} while (n == BATCH);
		atomic_store(&cpu_s, thread_cpu());
	}
	return NULL;
}

int tnd_mb_echo_start(struct sockaddr_in *addr)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int v = 8 << 20;
	pthread_t th;

	efd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (efd < 0)
		return errno;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (setsockopt(efd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)))
		setsockopt(efd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	if (bind(efd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(efd, (struct sockaddr *)addr, &len))
		return errno;
	if (pthread_create(&th, NULL, echo_main, NULL))
		return EAGAIN;
	pthread_detach(th);
	return 0;
}

double tnd_mb_echo_cpu_s(void)
{
	return atomic_load(&cpu_s);
}
