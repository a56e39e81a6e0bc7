/* pc-echo: the C side of test_pc_aiortc.py. Reads an SDP offer (made by a
 * real WebRTC peer) from stdin up to a line "END", answers with a minimal
 * BUNDLE/rtcp-mux SDP on stdout (ICE credentials, our fingerprint, setup per
 * --setup, our candidates, the offer's first audio codec), then echoes every
 * decrypted RTP packet back with our own SSRC through tnd_pc_send_rtp().
 *
 * Lines on stdout after the answer: "CONNECTED <ms> <profile>", "FAILED
 * <errno>", "CLOSED", and "STATS ..." at exit. It exits 0 when stdin closes
 * after a connection, 3 on FAILED, 4 on --timeout. The SDP handling is a
 * line scan for this test only; gateway/sdp owns real SDP. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>

#include "gateway/base/log.h"
#include "gateway/base/loop.h"
#include "gateway/base/obj.h"
#include "webrtc/webrtc.h"

#define MAX_CANDS 32
#define LINE_MAX_LEN 1024

struct offer {
	char ufrag[257], pwd[257], fingerprint[256], setup[32], mid[64];
	char rtpmap[256], fmtp[512];
	int pt;
	char *cands[MAX_CANDS];    /* owned (strdup) */
	int n_cands;
};

static struct {
	struct tnd_loop *loop;     /* owned */
	struct tnd_pc *pc;         /* ref; OWNER: the loop's thread (the main thread) */
	struct offer offer;
	enum tnd_dtls_role role;
	const char *fp_override;
	char *answer_cands[MAX_CANDS];   /* owned */
	int n_answer_cands;
	uint32_t ssrc;
	int rc;
	bool connected, finishing;
	uint64_t echoed, echo_err;
} g;

static void chomp(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = 0;
}

static void copy_after(char *dst, size_t size, const char *line, const char *prefix)
{
	if (!*dst)
		snprintf(dst, size, "%s", line + strlen(prefix));
}

/* The first audio m-line's first payload type and its attributes; ICE and
 * DTLS attributes from anywhere (aiortc puts them in the media section). */
static int read_offer(struct offer *o)
{
	char line[LINE_MAX_LEN];
	bool audio = false;
	char want_rtpmap[32] = "", want_fmtp[32] = "";

	memset(o, 0, sizeof(*o));
	o->pt = -1;
	while (fgets(line, sizeof(line), stdin)) {
		chomp(line);
		if (!strcmp(line, "END"))
			break;
		if (!strncmp(line, "m=", 2)) {
			audio = !strncmp(line, "m=audio ", 8) && o->pt < 0;
			if (audio) {
				const char *p = line;

				for (int i = 0; i < 3 && p; i++) {
					p = strchr(p, ' ');
					if (p)
						p++;
				}
				if (p)
					o->pt = atoi(p);
				snprintf(want_rtpmap, sizeof(want_rtpmap), "a=rtpmap:%d ", o->pt);
				snprintf(want_fmtp, sizeof(want_fmtp), "a=fmtp:%d ", o->pt);
			}
		} else if (!strncmp(line, "a=ice-ufrag:", 12)) {
			copy_after(o->ufrag, sizeof(o->ufrag), line, "a=ice-ufrag:");
		} else if (!strncmp(line, "a=ice-pwd:", 10)) {
			copy_after(o->pwd, sizeof(o->pwd), line, "a=ice-pwd:");
		} else if (!strncmp(line, "a=fingerprint:", 14)) {
			copy_after(o->fingerprint, sizeof(o->fingerprint), line, "a=fingerprint:");
		} else if (!strncmp(line, "a=setup:", 8)) {
			copy_after(o->setup, sizeof(o->setup), line, "a=setup:");
		} else if (audio && !strncmp(line, "a=mid:", 6)) {
			copy_after(o->mid, sizeof(o->mid), line, "a=mid:");
		} else if (audio && *want_rtpmap &&
			   !strncmp(line, want_rtpmap, strlen(want_rtpmap))) {
			copy_after(o->rtpmap, sizeof(o->rtpmap), line, "a=rtpmap:");
		} else if (audio && *want_fmtp && !strncmp(line, want_fmtp, strlen(want_fmtp))) {
			copy_after(o->fmtp, sizeof(o->fmtp), line, "a=fmtp:");
		} else if (!strncmp(line, "a=candidate:", 12) && o->n_cands < MAX_CANDS) {
			o->cands[o->n_cands++] = strdup(line + 2);
		}
	}
	if (!*o->ufrag || !*o->pwd || !*o->fingerprint || o->pt < 0 || !*o->rtpmap) {
		fprintf(stderr, "pc-echo: offer lacks ICE, fingerprint or an audio codec\n");
		return EBADMSG;
	}
	return 0;
}

static gboolean finish_idle(gpointer data)
{
	struct tnd_pc_stats st;

	(void)data;
	if (g.pc) {
		tnd_pc_stats(g.pc, &st);
		printf("STATS rtp_in=%llu rtp_out=%llu rtcp_in=%llu srtp_err_in=%llu "
		       "drop_early=%llu echo_err=%llu profile=%s\n",
		       (unsigned long long)st.rtp_in, (unsigned long long)st.rtp_out,
		       (unsigned long long)st.rtcp_in, (unsigned long long)st.srtp_err_in,
		       (unsigned long long)st.drop_early, (unsigned long long)g.echo_err,
		       st.srtp_profile);
		fflush(stdout);
		g.pc = tnd_obj_put(g.pc);
	}
	tnd_loop_quit(g.loop);
	return G_SOURCE_REMOVE;
}

/* Never frees the pc under its own handler: the release runs from an idle. */
static void finish(int rc)
{
	GSource *s;

	if (g.finishing)
		return;
	g.finishing = true;
	g.rc = rc;
	s = g_idle_source_new();
	g_source_set_callback(s, finish_idle, NULL, NULL);
	g_source_attach(s, tnd_loop_context(g.loop));
	g_source_unref(s);
}

static void print_answer(void)
{
	char ufrag[257], pwd[257];
	const char *addr = "127.0.0.1";
	int port = 9;

	if (tnd_pc_local_ice(g.pc, ufrag, sizeof(ufrag), pwd, sizeof(pwd))) {
		finish(5);
		return;
	}
	/* c= and the m-line port from our first candidate (RFC 8839 4.2.1.1) */
	if (g.n_answer_cands) {
		char a[64];

		if (sscanf(g.answer_cands[0], "candidate:%*s %*s %*s %*s %63s %d", a, &port) != 2)
			port = 9;
	}
	printf("v=0\r\no=- %u 2 IN IP4 %s\r\ns=-\r\nt=0 0\r\n", g.ssrc, addr);
	if (*g.offer.mid)
		printf("a=group:BUNDLE %s\r\n", g.offer.mid);
	printf("m=audio %d UDP/TLS/RTP/SAVPF %d\r\nc=IN IP4 %s\r\n", port, g.offer.pt, addr);
	if (*g.offer.mid)
		printf("a=mid:%s\r\n", g.offer.mid);
	printf("a=sendrecv\r\na=rtcp-mux\r\na=rtpmap:%s\r\n", g.offer.rtpmap);
	if (*g.offer.fmtp)
		printf("a=fmtp:%s\r\n", g.offer.fmtp);
	printf("a=ssrc:%u cname:pc-echo\r\n", g.ssrc);
	printf("a=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=fingerprint:%s\r\na=setup:%s\r\n", ufrag, pwd,
	       tnd_webrtc_fingerprint(), g.role == TND_DTLS_ACTIVE ? "active" : "passive");
	for (int i = 0; i < g.n_answer_cands; i++)
		printf("a=%s\r\n", g.answer_cands[i]);
	printf("a=end-of-candidates\r\nEND\n");
	fflush(stdout);
}

static void on_candidate(void *arg, const char *cand)
{
	(void)arg;
	if (cand) {
		if (g.n_answer_cands < MAX_CANDS)
			g.answer_cands[g.n_answer_cands++] = strdup(cand);
		return;
	}
	/* aiortc does not take trickled candidates from us: answer once all
	 * are there */
	print_answer();
}

static void on_state(void *arg, enum tnd_pc_state state)
{
	struct tnd_pc_stats st;

	(void)arg;
	tnd_pc_stats(g.pc, &st);
	switch (state) {
	case TND_PC_CONNECTED:
		g.connected = true;
		printf("CONNECTED %.1f %s\n", (double)(st.t_connected_us - st.t_remote_us) / 1000,
		       st.srtp_profile);
		break;
	case TND_PC_FAILED:
		printf("FAILED %d\n", tnd_pc_error(g.pc));
		finish(3);
		break;
	case TND_PC_CLOSED:
		printf("CLOSED\n");
		break;
	case TND_PC_NEW:
		break;
	}
	fflush(stdout);
}

/* The pc's buffer has TND_PC_SRTP_OVERHEAD bytes of room after the packet
 * (webrtc.h), so the echo is rewritten and protected in place. */
static void on_rtp(void *arg, uint8_t *pkt, size_t len)
{
	(void)arg;
	tnd_rtp_set_ssrc(pkt, g.ssrc);
	if (tnd_pc_send_rtp(g.pc, pkt, len, len + TND_PC_SRTP_OVERHEAD))
		g.echo_err++;
	else
		g.echoed++;
}

static gboolean on_stdin(gint fd, GIOCondition cond, gpointer data)
{
	char buf[256];
	ssize_t n = read(fd, buf, sizeof(buf));

	(void)cond;
	(void)data;
	if (n > 0 || (n < 0 && errno == EINTR))
		return G_SOURCE_CONTINUE;
	finish(g.connected ? 0 : 2);
	return G_SOURCE_REMOVE;
}

static gboolean on_timeout(gpointer data)
{
	(void)data;
	printf("TIMEOUT\n");
	fflush(stdout);
	finish(4);
	return G_SOURCE_REMOVE;
}

static void start(void *unused)
{
	static const char *const addrs[] = { "127.0.0.1" };
	const struct tnd_pc_conf conf = { .local_addrs = addrs, .n_local_addrs = 1 };
	const struct tnd_pc_handlers h = {
		.candidate = on_candidate, .state = on_state, .rtp = on_rtp,
	};
	const char *fp = g.fp_override ? g.fp_override : g.offer.fingerprint;
	int err;

	(void)unused;
	err = tnd_pc_alloc(&g.pc, g.loop, &conf, false, &h, NULL);
	if (!err)
		err = tnd_pc_set_remote(g.pc, g.offer.ufrag, g.offer.pwd, fp, g.role);
	for (int i = 0; !err && i < g.offer.n_cands; i++) {
		int e = tnd_pc_add_remote_candidate(g.pc, g.offer.cands[i]);

		if (e)
			fprintf(stderr, "pc-echo: candidate %s: error %d\n", g.offer.cands[i], e);
	}
	if (!err)
		err = tnd_pc_add_remote_candidate(g.pc, NULL);
	if (!err)
		err = tnd_pc_gather(g.pc);
	if (err) {
		fprintf(stderr, "pc-echo: set-up failed: %s\n", strerror(err));
		finish(1);
	}
}

int main(int argc, char **argv)
{
	int timeout_s = 30;
	GSource *src;

	g.role = TND_DTLS_PASSIVE;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--setup") && i + 1 < argc) {
			g.role = !strcmp(argv[++i], "active") ? TND_DTLS_ACTIVE : TND_DTLS_PASSIVE;
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			timeout_s = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--fingerprint") && i + 1 < argc) {
			g.fp_override = argv[++i];
		} else {
			fprintf(stderr, "usage: pc-echo [--setup active|passive] [--timeout S] "
				"[--fingerprint FP] < offer\n");
			return 1;
		}
	}
	tnd_log_parse_levels(getenv("PC_ECHO_LOG") ? getenv("PC_ECHO_LOG") : "info", false);
	if (tnd_webrtc_init() || read_offer(&g.offer))
		return 1;
	if (!strcmp(g.offer.setup, "active") && g.role == TND_DTLS_ACTIVE)
		fprintf(stderr, "pc-echo: the offer is active too; answering active anyway\n");
	g.ssrc = g_random_int() | 1;
	if (tnd_loop_alloc(&g.loop, "echo", 1))
		return 1;
	/* the loop runs on this thread; the pc is made from inside it */
	g_main_context_push_thread_default(tnd_loop_context(g.loop));
	src = g_unix_fd_source_new(0, G_IO_IN | G_IO_HUP | G_IO_ERR);
	g_source_set_callback(src, G_SOURCE_FUNC(on_stdin), NULL, NULL);
	g_source_attach(src, tnd_loop_context(g.loop));
	g_source_unref(src);
	src = g_timeout_source_new_seconds((guint)timeout_s);
	g_source_set_callback(src, on_timeout, NULL, NULL);
	g_source_attach(src, tnd_loop_context(g.loop));
	g_source_unref(src);
	tnd_loop_call(g.loop, start, NULL);
	tnd_loop_run(g.loop);
	g_main_context_pop_thread_default(tnd_loop_context(g.loop));
	tnd_loop_free(g.loop);
	tnd_webrtc_deinit();
	for (int i = 0; i < g.offer.n_cands; i++)
		free(g.offer.cands[i]);
	for (int i = 0; i < g.n_answer_cands; i++)
		free(g.answer_cands[i]);
	return g.rc;
}
