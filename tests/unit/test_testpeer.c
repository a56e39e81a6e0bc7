/* Unit tests of the built-in test destinations (gateway/media/testpeer.c)
 * on a real worker thread, with a plain UDP socket in the bridge's place:
 * echo sends back what came, at least 200 ms later, as a stream of its own
 * (SSRC, continuous sequence numbers, the sender's timestamp spacing), and
 * drops RTCP; tone sends PCMU whose decoded audio is 1 kHz (Goertzel power
 * against 440 Hz), paced at 20 ms with continuous numbering; dtmf reads a
 * digit sent as RFC 4733 back once, as its tone pair in the PCMU (row and
 * column against 1 kHz and the other row) and as telephone-events of PT
 * 101 ending with the E bit, and shrugs off broken event packets. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

#include "codecs/codecs.h"
#include "gateway/base/obj.h"
#include "gateway/media/media.h"
#include "tests/unit/runner.h"

static int udp_open(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t sl = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sl) ||
	    getsockname(fd, (struct sockaddr *)&a, &sl)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

static void send_to(int fd, uint16_t port, const uint8_t *p, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	(void)sendto(fd, p, len, 0, (struct sockaddr *)&a, sizeof(a));
}

static ssize_t recv_wait(int fd, uint8_t *buf, size_t cap, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (poll(&pfd, 1, ms) != 1)
		return -1;
	return recv(fd, buf, cap, 0);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void mk_rtp(uint8_t *p, uint8_t pt, uint16_t seq, uint32_t ts, uint32_t ssrc)
{
	p[0] = 0x80;
	p[1] = pt;
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	for (int i = 0; i < 4; i++) {
		p[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
		p[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
	}
}

/* Stops the peer, lets the worker drop its last reference, frees the loop. */
static int teardown(struct tnd_testpeer *tp, struct tnd_loop *w, int fd, long live)
{
	int64_t end = g_get_monotonic_time() + 5000000;

	tnd_testpeer_close(tp);
	tnd_obj_put(tp);
	while (tnd_obj_live() != live && g_get_monotonic_time() < end)
		g_usleep(2000);
	tnd_loop_free(w);
	close(fd);
	return tnd_obj_live() == live ? 0 : 1;
}

static int test_echo_delays_and_renumbers(void)
{
	struct tnd_testpeer *tp = NULL;
	struct tnd_loop *w = NULL;
	long live = tnd_obj_live();
	uint16_t port, tp_port = 0, seq = 0;
	uint8_t p[172], r[2048];
	gint64 sent[10], lo = G_MAXINT64, hi = 0;
	int fd = udp_open(&port);

	TEST_ASSERT(fd >= 0);
	TEST_ASSERT(tnd_loop_alloc(&w, "media0", 1) == 0 && tnd_loop_thread_start(w) == 0);
	TEST_ASSERT(tnd_testpeer_alloc(&tp, w, TND_TESTPEER_ECHO, "127.0.0.1", port, NULL, 0, 0,
				       &tp_port) == 0);
	TEST_ASSERT(tp_port != 0);
	for (int i = 0; i < 10; i++) {
		mk_rtp(p, 0, (uint16_t)(500 + i), 8000u + (uint32_t)i * 160u, 0x11111111);
		memset(p + 12, i, sizeof(p) - 12);
		sent[i] = g_get_monotonic_time();
		send_to(fd, tp_port, p, sizeof(p));
		g_usleep(20000);
	}
	for (int i = 0; i < 10; i++) {
		ssize_t n = recv_wait(fd, r, sizeof(r), 2000);
		gint64 late = g_get_monotonic_time() - sent[i];

		TEST_ASSERT(n == (ssize_t)sizeof(p));
		TEST_ASSERT(r[12] == i && r[sizeof(p) - 1] == i);   /* in order, intact */
		TEST_ASSERT(late >= 195000);                         /* the delay line */
		lo = MIN(lo, late);
		hi = MAX(hi, late);
		TEST_ASSERT(get32(r + 8) != 0x11111111);             /* its own SSRC */
		if (i)
			TEST_ASSERT((uint16_t)(r[2] << 8 | r[3]) == (uint16_t)(seq + 1));
		seq = (uint16_t)(r[2] << 8 | r[3]);
	}
	printf("# echo delay %.1f..%.1f ms (send to receive, loopback)\n", lo / 1000.0, hi / 1000.0);
	/* an RTCP report (PT 200) is not echoed */
	p[1] = 200;
	send_to(fd, tp_port, p, 28);
	TEST_ASSERT(recv_wait(fd, r, sizeof(r), 500) < 0);
	return teardown(tp, w, fd, live);
}

/* Goertzel power of f in x (RFC-free: the textbook recurrence). */
static double power_at(const int16_t *x, size_t n, double f, double rate)
{
	double c = 2 * cos(2 * M_PI * f / rate), s1 = 0, s2 = 0;

	for (size_t i = 0; i < n; i++) {
		double s0 = x[i] / 32768.0 + c * s1 - s2;

		s2 = s1;
		s1 = s0;
	}
	return s1 * s1 + s2 * s2 - c * s1 * s2;
}

static int test_tone_is_1k_pcmu_paced(void)
{
	struct tnd_testpeer *tp = NULL;
	struct tnd_codec_dec *dec = NULL;
	struct tnd_codec_params prm;
	struct tnd_loop *w = NULL;
	long live = tnd_obj_live();
	static int16_t pcm[8000];
	size_t got = 0;
	uint16_t port, tp_port = 0, seq = 0;
	uint32_t ts = 0;
	uint8_t r[2048];
	gint64 t0 = 0;
	int fd = udp_open(&port);

	memset(&prm, 0, sizeof(prm));
	TEST_ASSERT(fd >= 0);
	TEST_ASSERT(tnd_codec_dec_alloc(&dec, tnd_codec_get(TND_CODEC_PCMU), &prm) == 0);
	TEST_ASSERT(tnd_loop_alloc(&w, "media0", 1) == 0 && tnd_loop_thread_start(w) == 0);
	TEST_ASSERT(tnd_testpeer_alloc(&tp, w, TND_TESTPEER_TONE, "127.0.0.1", port, "PCMU", 8000,
				       0, &tp_port) == 0);
	for (int i = 0; i < 25; i++) {
		ssize_t n = recv_wait(fd, r, sizeof(r), 2000);
		size_t ns = 0;

		TEST_ASSERT(n == 12 + 160);
		TEST_ASSERT((r[1] & 0x7f) == 0);
		if (i) {
			TEST_ASSERT((uint16_t)(r[2] << 8 | r[3]) == (uint16_t)(seq + 1));
			TEST_ASSERT(get32(r + 4) - ts == 160);
		} else {
			t0 = g_get_monotonic_time();
		}
		seq = (uint16_t)(r[2] << 8 | r[3]);
		ts = get32(r + 4);
		TEST_ASSERT(tnd_codec_decode(dec, r + 12, 160, pcm + got, 160, &ns) == 0 && ns == 160);
		got += ns;
	}
	/* 24 packets after the first took about 480 ms: paced, not a burst */
	TEST_ASSERT(g_get_monotonic_time() - t0 >= 400000);
	TEST_ASSERT(power_at(pcm, got, 1000, 8000) > 100 * power_at(pcm, got, 440, 8000));
	TEST_ASSERT(power_at(pcm, got, 1000, 8000) > 100 * power_at(pcm, got, 1500, 8000));
	tnd_codec_dec_free(dec);
	return teardown(tp, w, fd, live);
}

/* Digit '5' (event 5) as RFC 4733 on PT 101: begin, two updates, three
 * ends; then its end again, late, and three broken packets. */
static void send_digit_5(int fd, uint16_t port)
{
	static const uint16_t durs[] = { 160, 320, 480, 800, 800, 800, 800 };
	uint8_t p[32];

	for (unsigned i = 0; i < sizeof(durs) / sizeof(durs[0]); i++) {
		mk_rtp(p, (uint8_t)(101 | (i == 0 ? 0x80 : 0)), (uint16_t)(700 + i), 90000, 0x2222);
		p[12] = 5;
		p[13] = (uint8_t)(i >= 3 ? 0x80 | 10 : 10);
		p[14] = (uint8_t)(durs[i] >> 8);
		p[15] = (uint8_t)durs[i];
		send_to(fd, port, p, 16);
		g_usleep(20000);
	}
	mk_rtp(p, 101, 710, 90000, 0x2222);
	p[0] = 0x9f;                 /* X bit and 15 CSRCs: longer than the packet */
	send_to(fd, port, p, 16);
	p[0] = 0xa0;                 /* padding larger than the payload */
	p[15] = 200;
	send_to(fd, port, p, 16);
	p[0] = 0x80;
	send_to(fd, port, p, 14);    /* half an event block */
}

static int test_dtmf_reads_back(void)
{
	struct tnd_testpeer *tp = NULL;
	struct tnd_loop *w = NULL;
	struct tnd_codec_dec *dec = NULL;
	struct tnd_codec_params prm;
	long live = tnd_obj_live();
	uint16_t port, tp_port = 0;
	uint8_t r[2048];
	int16_t pcm[8000 * 3];
	size_t got = 0;
	unsigned events = 0, ends = 0, markers = 0;
	int fd = udp_open(&port);

	memset(&prm, 0, sizeof(prm));
	TEST_ASSERT(fd >= 0);
	TEST_ASSERT(tnd_codec_dec_alloc(&dec, tnd_codec_get(TND_CODEC_PCMU), &prm) == 0);
	TEST_ASSERT(tnd_loop_alloc(&w, "media0", 1) == 0 && tnd_loop_thread_start(w) == 0);
	TEST_ASSERT(tnd_testpeer_alloc(&tp, w, TND_TESTPEER_DTMF, "127.0.0.1", port, "PCMU", 8000,
				       0, &tp_port) == 0);
	TEST_ASSERT(tnd_testpeer_set_te(tp, 200, 8000) == EINVAL);
	TEST_ASSERT(tnd_testpeer_set_te(tp, 101, 8000) == 0);
	TEST_ASSERT(tnd_testpeer_set_te(tp, 101, 8000) == EINVAL);
	send_digit_5(fd, tp_port);
	send_digit_5(fd, tp_port);   /* the same event again: no second digit */
	/* 3 s of what it sends: the digit, 100 ms, once */
	while (got + 160 <= sizeof(pcm) / sizeof(pcm[0])) {
		ssize_t n = recv_wait(fd, r, sizeof(r), 2000);
		size_t ns = 0;

		TEST_ASSERT(n >= 12);
		if ((r[1] & 0x7f) == 101) {
			TEST_ASSERT(n == 16 && r[12] == 5);
			events++;
			ends += (r[13] & 0x80) != 0;
			markers += (r[1] & 0x80) != 0;
			continue;
		}
		TEST_ASSERT((r[1] & 0x7f) == 0 && n == 12 + 160);
		TEST_ASSERT(tnd_codec_decode(dec, r + 12, 160, pcm + got, 160, &ns) == 0 && ns == 160);
		got += ns;
	}
	TEST_ASSERT(events >= 5 && ends == 3 && markers == 1);
	TEST_ASSERT(power_at(pcm, got, 770, 8000) > 100 * power_at(pcm, got, 1000, 8000));
	TEST_ASSERT(power_at(pcm, got, 1336, 8000) > 100 * power_at(pcm, got, 697, 8000));
	tnd_codec_dec_free(dec);
	return teardown(tp, w, fd, live);
}

static int test_bad_arguments(void)
{
	struct tnd_testpeer *tp = NULL;
	struct tnd_loop *w = NULL;
	uint16_t port = 0;

	TEST_ASSERT(tnd_loop_alloc(&w, "media0", 1) == 0);
	TEST_ASSERT(tnd_testpeer_alloc(&tp, w, TND_TESTPEER_TONE, "127.0.0.1", 4000, NULL, 0, 0,
				       &port) == EINVAL);
	TEST_ASSERT(tnd_testpeer_alloc(&tp, w, TND_TESTPEER_TONE, "127.0.0.1", 4000, "nonesuch",
				       8000, 96, &port) == ENOTSUP);
	TEST_ASSERT(tnd_testpeer_alloc(&tp, w, TND_TESTPEER_ECHO, "not-an-ip", 4000, NULL, 0, 0,
				       &port) == EINVAL);
	TEST_ASSERT(tnd_testpeer_alloc(&tp, NULL, TND_TESTPEER_ECHO, "127.0.0.1", 4000, NULL, 0,
				       0, &port) == EINVAL);
	TEST_ASSERT(!tp);
	tnd_loop_free(w);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct tnd_test tests[] = {
		TND_TEST(test_echo_delays_and_renumbers),
		TND_TEST(test_tone_is_1k_pcmu_paced),
		TND_TEST(test_dtmf_reads_back),
		TND_TEST(test_bad_arguments),
	};

	return tnd_test_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
