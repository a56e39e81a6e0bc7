/* xcode-bench's rtpengine side: the same Opus <-> PCMU calls set up in a
 * running rtpengine through its ng control protocol (offer with PCMU only
 * and `transcode: opus`, answered with Opus only, so rtpengine must
 * transcode every packet), and rtpengine's CPU read from /proc. Blocking
 * I/O on the main thread; this is set-up code, not the measured path.
 * The bencode here writes and reads only what these two commands need. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/bench/xcode_bench.h"

static int ng_fd = -1;
static unsigned ng_cookie;

int tnd_xb_ng_open(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001),
				 .sin_port = htons(port) };

	ng_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	return ng_fd < 0 || connect(ng_fd, (struct sockaddr *)&a, sizeof(a));
}

/* Sends `dict` (a bencoded dictionary) and waits for the reply with the
 * same cookie, retrying for up to 10 s (rtpengine may still be starting). */
static int ng_call(const char *dict, char *reply, size_t cap)
{
	char msg[4096], want[32];
	int len, wlen;

	len = snprintf(msg, sizeof(msg), "%u_xb %s", ++ng_cookie, dict);
	wlen = snprintf(want, sizeof(want), "%u_xb ", ng_cookie);
	if (len <= 0 || (size_t)len >= sizeof(msg))
		return -1;
	for (int tries = 0; tries < 20; tries++) {
		struct pollfd p = { .fd = ng_fd, .events = POLLIN };

		if (send(ng_fd, msg, (size_t)len, 0) < 0)
			usleep(100000);
		while (poll(&p, 1, 500) == 1) {
			ssize_t n = recv(ng_fd, reply, cap - 1, 0);

			if (n <= 0)
				break;
			reply[n] = 0;
			if (n > wlen && !memcmp(reply, want, (size_t)wlen))
				return 0;
		}
	}
	return -1;
}

/* The string value of `key` in a flat bencoded reply, copied into out. */
static int bget(const char *reply, const char *key, char *out, size_t cap)
{
	char pat[64];
	const char *p;
	char *end;
	unsigned long n;

	snprintf(pat, sizeof(pat), "%zu:%s", strlen(key), key);
	p = strstr(reply, pat);
	if (!p)
		return -1;
	n = strtoul(p + strlen(pat), &end, 10);
	if (*end != ':' || n >= cap)
		return -1;
	memcpy(out, end + 1, n);
	out[n] = 0;
	return 0;
}

static int sdp_port(const char *sdp)
{
	const char *m = strstr(sdp, "m=audio ");

	return m ? atoi(m + 8) : -1;
}

/* The payload type rtpengine gave opus in its offer toward B. */
static int sdp_opus_pt(const char *sdp)
{
	for (const char *p = strstr(sdp, "a=rtpmap:"); p; p = strstr(p + 1, "a=rtpmap:")) {
		int pt = atoi(p + 9);
		const char *sp = strchr(p, ' ');

		if (sp && !strncasecmp(sp + 1, "opus/48000", 10))
			return pt;
	}
	return -1;
}

static int bstr(char *out, size_t cap, const char *k, const char *v)
{
	return snprintf(out, cap, "%zu:%s%zu:%s", strlen(k), k, strlen(v), v);
}

int tnd_xb_ng_call(unsigned i, uint16_t a_port, uint16_t b_port, uint16_t *to_a,
		   uint16_t *to_b, uint8_t *opus_pt)
{
	char sdp[512], dict[2048], reply[8192], got[4096], id[32], k1[128], k2[128], k3[1024];
	int pt;

	snprintf(id, sizeof(id), "xb-call-%u", i);
	snprintf(sdp, sizeof(sdp),
		 "v=0\r\no=- %u 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
		 "m=audio %u RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n",
		 i + 1, a_port);
	bstr(k1, sizeof(k1), "call-id", id);
	bstr(k2, sizeof(k2), "from-tag", "ta");
	bstr(k3, sizeof(k3), "sdp", sdp);
	snprintf(dict, sizeof(dict),
		 "d5:codecd9:transcodel4:opusee7:command5:offer%s%s3:ICE6:remove%se", k1,
		 k2, k3);
	if (ng_call(dict, reply, sizeof(reply)) || bget(reply, "sdp", got, sizeof(got)) ||
	    sdp_port(got) <= 0 || (pt = sdp_opus_pt(got)) < 0) {
		fprintf(stderr, "rtpengine offer %u: %s\n", i, reply);
		return -1;
	}
	*to_b = (uint16_t)sdp_port(got);
	*opus_pt = (uint8_t)pt;
	snprintf(sdp, sizeof(sdp),
		 "v=0\r\no=- %u 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
		 "m=audio %u RTP/AVP %d\r\na=rtpmap:%d opus/48000/2\r\na=ptime:20\r\n"
		 "a=sendrecv\r\n", i + 1000001, b_port, pt, pt);
	bstr(k3, sizeof(k3), "sdp", sdp);
	snprintf(dict, sizeof(dict), "d7:command6:answer%s%s6:to-tag2:tb3:ICE6:remove%se", k1,
		 k2, k3);
	if (ng_call(dict, reply, sizeof(reply)) || bget(reply, "sdp", got, sizeof(got)) ||
	    sdp_port(got) <= 0) {
		fprintf(stderr, "rtpengine answer %u: %s\n", i, reply);
		return -1;
	}
	*to_a = (uint16_t)sdp_port(got);
	return 0;
}

void tnd_xb_ng_delete(unsigned i)
{
	char dict[256], reply[4096], k1[128];

	snprintf(k1, sizeof(k1), "xb-call-%u", i);
	snprintf(dict, sizeof(dict), "d7:command6:delete7:call-id%zu:%s8:from-tag2:tae",
		 strlen(k1), k1);
	ng_call(dict, reply, sizeof(reply));
}

int64_t tnd_xb_pid_cpu_ns(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	/* fields 14 and 15 (utime, stime) counted after the ")" of comm */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
			 &st) != 2)
		return -1;
	return (int64_t)(ut + st) * (1000000000LL / sysconf(_SC_CLK_TCK));
}
