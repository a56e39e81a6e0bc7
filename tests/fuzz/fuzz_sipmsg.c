/* libFuzzer target: SIP messages as they arrive, through Sofia's parser,
 * nta and nua, and our handlers in sip/ (ua.c, call.c, call_in.c). Each
 * input is one UDP datagram from a fixed loopback socket to a real user
 * agent (tnd_sipua on 127.0.0.1) whose incoming-call sink behaves like the
 * gateway's: it takes every call and alternately rejects it (486) or rings
 * and answers it with SDP, and drops the call when it ends.
 * After the datagram the target sends an OPTIONS "sentinel" and runs the
 * UA's GLib context until the sentinel's answer is back: loopback UDP keeps
 * order and Sofia handles datagrams in order, so by then the input has been
 * handled (parsed, answered or dropped). Every request the UA sends itself
 * (BYE after a missing ACK) goes to the fuzzer's socket (the UA's outbound
 * proxy), and Sofia's timers are shortened so transactions do not pile up.
 * Nothing leaves loopback. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/base/log.h"
#include "gateway/base/obj.h"
#include "sip/sip_int.h"     /* the UA's nua, Sofia's tags (nta_tag.h via nua.h) */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SDP "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n" \
	"t=0 0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"

static struct tnd_sipua *ua;
static GMainContext *ctx;
static int sock = -1;                  /* the fuzzer's end */
static struct sockaddr_in ua_addr;
static int my_port;
static GSource *tick_source;           /* keeps the loop waking up */
static unsigned taken, sentinels;

static void on_ended(void *arg, struct tnd_sipcall *call, int status, const char *phrase,
		     enum tnd_sipcall_end why)
{
	(void)arg;
	(void)status;
	(void)phrase;
	(void)why;
	tnd_obj_put(call);                 /* the sink's reference */
}

static const struct tnd_sipcall_handlers sink = { .ended = on_ended };

static int on_incoming(void *arg, struct tnd_sipcall *call, const struct tnd_sipcall_info *info)
{
	(void)arg;
	(void)info;
	if (tnd_sipcall_set_handlers(call, &sink, NULL))
		return EINVAL;
	tnd_obj_get(call);
	if (taken++ % 2) {
		tnd_sipcall_reject(call, 486, NULL);
	} else {
		tnd_sipcall_ringing(call, NULL);
		tnd_sipcall_answer(call, SDP);
	}
	return 0;
}

/* MESSAGE (sip/message.c): its body checked as the gateway does, then
 * taken or refused in turn */
static int on_message(void *arg, const struct tnd_sipmsg_in *m)
{
	static unsigned n;
	int err = tnd_sip_text_check(m->ctype, m->body, m->len);

	(void)arg;
	if (err)
		return err;
	return n++ % 2 ? EAGAIN : 0;
}

static int free_udp_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_DGRAM, 0), port = 0;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s >= 0 && !bind(s, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(s, (struct sockaddr *)&a, &len))
		port = ntohs(a.sin_port);
	if (s >= 0)
		close(s);
	return port;
}

static gboolean tick(gpointer data)
{
	(void)data;
	return G_SOURCE_CONTINUE;
}

static void setup(void)
{
	struct tnd_sip_conf conf = { .listen = "127.0.0.1", .udp = true, .user_agent = "fuzz" };
	struct sockaddr_in me = { .sin_family = AF_INET };
	socklen_t len = sizeof(me);
	char proxy[64];

	tnd_log_parse_levels("error", false);
	tnd_sip_init();
	ctx = g_main_context_new();
	sock = socket(AF_INET, SOCK_DGRAM, 0);
	me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	conf.port = free_udp_port();
	if (sock < 0 || bind(sock, (struct sockaddr *)&me, sizeof(me)) ||
	    getsockname(sock, (struct sockaddr *)&me, &len) || !conf.port ||
	    tnd_sipua_alloc(&ua, ctx, &conf)) {
		fprintf(stderr, "fuzz_sipmsg: cannot set up the user agent\n");
		abort();
	}
	snprintf(proxy, sizeof(proxy), "sip:127.0.0.1:%d", ntohs(me.sin_port));
	tnd_sipua_set_outbound(ua, proxy, NULL);
	/* 64*T1 = 1 s: an unACKed answer or a lost response lives 1 s, not 32 */
	nua_set_params(ua->nua, NTATAG_SIP_T1(100), NTATAG_SIP_T1X64(1000), TAG_END());
	tnd_sipua_set_incoming(ua, on_incoming, NULL);
	tnd_sipua_set_message(ua, on_message, NULL);
	tick_source = g_timeout_source_new(5);
	g_source_set_callback(tick_source, tick, NULL, NULL);
	g_source_attach(tick_source, ctx);
	my_port = ntohs(me.sin_port);
	ua_addr.sin_family = AF_INET;
	ua_addr.sin_port = htons((uint16_t)conf.port);
	ua_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

/* Runs the UA until `tag` comes back in a datagram on our socket (at most
 * 2 s: a lost sentinel shows as a slow input, never a stuck fuzzer). */
static void run_until(const char *tag)
{
	gint64 until = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
	static char buf[65536];
	ssize_t n;

	while (g_get_monotonic_time() < until) {
		/* not blocking: nua hands work to itself through Sofia's message
		 * queue, which a blocking iteration only saw on the next tick */
		g_main_context_iteration(ctx, FALSE);
		while ((n = recv(sock, buf, sizeof(buf) - 1, MSG_DONTWAIT)) >= 0) {
			buf[n] = '\0';
			if (strstr(buf, tag))
				return;
		}
	}
}

static void sentinel(void)
{
	char msg[512], tag[48];
	int n;

	snprintf(tag, sizeof(tag), "fuzz-sentinel-%u", ++sentinels);
	n = snprintf(msg, sizeof(msg),
		     "OPTIONS sip:fuzz@127.0.0.1:%d SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s\r\n"
		     "Max-Forwards: 70\r\nFrom: <sip:f@127.0.0.1>;tag=f\r\n"
		     "To: <sip:fuzz@127.0.0.1>\r\nCall-ID: %s\r\nCSeq: 1 OPTIONS\r\n"
		     "Content-Length: 0\r\n\r\n",
		     ntohs(ua_addr.sin_port), my_port, tag + 6, tag);
	sendto(sock, msg, (size_t)n, 0, (struct sockaddr *)&ua_addr, sizeof(ua_addr));
	run_until(tag);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ua)
		setup();
	if (size > 65000)
		return 0;
	sendto(sock, data, size, 0, (struct sockaddr *)&ua_addr, sizeof(ua_addr));
	sentinel();
	return 0;
}
