/* gateway/call under abuse (issue 9, review M1): calls cannot pile up. An
 * incoming call rings at most [calls] ring_timeout; incoming calls past
 * max_ringing(_per_user) are refused at once without media; browser calls
 * past max_per_connection, max_per_user or the rate get EAGAIN (429); a
 * hangup ends the call for the browser at once, and a dialog whose peer
 * never answers our CANCEL is forgotten after [calls] linger. Same fixture
 * as test_call.c: real user agents on loopback, one media worker. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

#include "gateway/call/call.h"
#include "tests/unit/runner.h"
#include "tests/unit/test_call_fx.h"

static const char conf_ring[] = "[media]\nworkers = 1\n[calls]\nring_timeout = 1\n";
static const char conf_ring_user[] =
	"[media]\nworkers = 1\n[calls]\nmax_ringing_per_user = 1\n";
static const char conf_ring_total[] = "[media]\nworkers = 1\n[calls]\nmax_ringing = 1\n";
static const char conf_out_caps[] =
	"[media]\nworkers = 1\n[calls]\nmax_per_connection = 2\nmax_per_user = 3\n"
	"reattach_grace = 0\n";
static const char conf_rate[] =
	"[media]\nworkers = 1\n[calls]\nallow = sip:*@pbx.example\nrate = 1\nburst = 2\n";
static const char conf_linger[] = "[media]\nworkers = 1\n[calls]\nlinger = 1\n";

static unsigned long stat_of(int which)
{
	struct tnd_calls_stats st;

	tnd_calls_stats(fx.calls, &st);
	return which == 0 ? st.calls : which == 1 ? st.sip_dialogs : (unsigned long)st.bridges;
}

/* Sockets this process holds. */
static long sockets_open(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char path[300], target[64];
	long n = 0;

	while (d && (e = readdir(d))) {
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		if (len > 0 && (target[len] = '\0', !strncmp(target, "socket:", 7)))
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

/* Nobody answers: after ring_timeout the caller gets 480 and the browser
 * `ended` 480 with the reason; nothing is left. While it rings, the call
 * holds one media port (the probe saw ~3 per ringing call, counted as 1)
 * and the stats say so. */
static int in_ring_timeout(void)
{
	long before = sockets_open();
	struct tnd_calls_stats st;
	struct pcall *pc = peer_invite("alice");

	TEST_ASSERT(pc);
	TEST_ASSERT(wait_for(pc->log, "180;", WAIT_MS));
	TEST_ASSERT(fx.n_incoming == 1);
	tnd_calls_stats(fx.calls, &st);
	printf("# ringing: %ld ports counted, %ld sockets opened\n", st.media_ports,
	       sockets_open() - before);
	TEST_ASSERT(st.media_ports == sockets_open() - before);
	/* what the offer to the browser needs: its ICE socket; the SIP-side
	 * RTP and RTCP ports come with the answer */
	TEST_ASSERT(st.media_ports == 1);
	TEST_ASSERT(wait_for(pc->log, "ended", 3000));
	TEST_ASSERT(!strcmp(pc->log, "180;ended 480 rejected;"));
	TEST_ASSERT_STR_CONTAINS(fx.sink, "1 ended 480 no answer within 1 s;");
	TEST_ASSERT(wait_idle(WAIT_MS));
	return 0;
}

/* One more INVITE than the cap: refused at once (486 for the user's cap,
 * 503 for the gateway's) with no bridge made and no browser alerted; once
 * the ringing call ends, the next one rings again. */
static int in_ring_cap(void)
{
	int want = fx.conf->calls_max_ringing == 1 ? 503 : 486;
	char expect[64];
	struct pcall *pc1, *pc2, *pc3;

	pc1 = peer_invite("alice");
	TEST_ASSERT(pc1);
	TEST_ASSERT(wait_for(pc1->log, "180;", WAIT_MS));
	pc2 = peer_invite("alice");
	TEST_ASSERT(pc2);
	TEST_ASSERT(wait_for(pc2->log, "ended", WAIT_MS));
	snprintf(expect, sizeof(expect), "ended %d rejected;", want);
	TEST_ASSERT(!strcmp(pc2->log, expect));
	TEST_ASSERT(fx.n_incoming == 1);
	TEST_ASSERT(stat_of(0) == 1 && stat_of(2) == 1);

	TEST_ASSERT(tnd_sipcall_hangup(pc1->sc) == 0);
	TEST_ASSERT(wait_for(fx.sink, "ended 487", WAIT_MS));
	pc3 = peer_invite("alice");
	TEST_ASSERT(pc3);
	TEST_ASSERT(wait_for(pc3->log, "180;", WAIT_MS));
	TEST_ASSERT(fx.n_incoming == 2);
	TEST_ASSERT(tnd_sipcall_hangup(pc3->sc) == 0);
	TEST_ASSERT(wait_for(pc3->log, "ended", WAIT_MS));
	return 0;
}

/* A call from `conn` (user alice); 0 or the errno, msg filled. */
static int try_call(void *conn, const char *to, char *msg, size_t len)
{
	struct tnd_call_params p = { .to = to, .sdp = browser_offer, .from_user = "alice" };
	struct req *r = tnd_obj_zalloc(sizeof(*r), NULL);
	int err;

	fx.done = false;
	*msg = '\0';
	err = tnd_calls_start(fx.calls, conn, &p, call_done, r, msg, len);
	tnd_obj_put(r);
	if (!err && (!wait_flag(&fx.done, WAIT_MS) || fx.done_err))
		return EIO;
	return err;
}

/* max_per_connection 2, max_per_user 3: a WebSocket's third call and the
 * user's fourth get EAGAIN naming the limit, before anything reaches SIP;
 * an ended call frees its place. */
static int out_call_caps(void)
{
	char to[128], msg[256], first[32];

	snprintf(to, sizeof(to), "sip:bob@127.0.0.1:%u", fx.peer_port);
	TEST_ASSERT(try_call(fx.alice, to, msg, sizeof(msg)) == 0);
	snprintf(first, sizeof(first), "%s", fx.call_id);
	TEST_ASSERT(try_call(fx.alice, to, msg, sizeof(msg)) == 0);
	TEST_ASSERT(try_call(fx.alice, to, msg, sizeof(msg)) == EAGAIN);
	TEST_ASSERT_STR_CONTAINS(msg, "max_per_connection is 2");
	TEST_ASSERT(try_call(fx.alice2, to, msg, sizeof(msg)) == 0);
	TEST_ASSERT(try_call(fx.alice2, to, msg, sizeof(msg)) == EAGAIN);
	TEST_ASSERT_STR_CONTAINS(msg, "max_per_user is 3");
	TEST_ASSERT(stat_of(0) == 3);
	TEST_ASSERT(wait_for(fx.pc[2].log, "invite", WAIT_MS) && fx.n_pc == 3);

	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice, first, msg, sizeof(msg)) == 0);
	TEST_ASSERT(try_call(fx.alice, to, msg, sizeof(msg)) == 0);
	tnd_calls_conn_gone(fx.calls, fx.alice);
	tnd_calls_conn_gone(fx.calls, fx.alice2);
	TEST_ASSERT(wait_idle(WAIT_MS));
	return 0;
}

/* rate 1, burst 2: the third attempt at once gets EAGAIN, from any of the
 * user's WebSockets; a second later one more goes through (to the dial
 * plan, which refuses it: attempts count, not only calls placed). */
static int out_call_rate(void)
{
	char msg[256];

	TEST_ASSERT(try_call(fx.alice, "sip:x@127.0.0.1", msg, sizeof(msg)) == EPERM);
	TEST_ASSERT(try_call(fx.alice, "sip:x@127.0.0.1", msg, sizeof(msg)) == EPERM);
	TEST_ASSERT(try_call(fx.alice2, "sip:x@127.0.0.1", msg, sizeof(msg)) == EAGAIN);
	TEST_ASSERT_STR_CONTAINS(msg, "[calls] rate is 1 per second");
	TEST_ASSERT(try_call(fx.alice, "sip:x@127.0.0.1", msg, sizeof(msg)) == EAGAIN);
	spin(1100);
	TEST_ASSERT(try_call(fx.alice, "sip:x@127.0.0.1", msg, sizeof(msg)) == EPERM);
	TEST_ASSERT(try_call(fx.alice, "sip:x@127.0.0.1", msg, sizeof(msg)) == EAGAIN);
	return 0;
}

/* The SIP peer never answers at all (a UDP socket that reads nothing): the
 * hangup ends the call for the browser before returning; the dialog, whose
 * CANCEL Sofia holds until a 1xx that never comes, is gone after [calls]
 * linger (1 s), not after the INVITE's 32 s timeout. */
static int out_hangup_silent_peer(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	char to[128], msg[256];
	gint64 t0;
	int fd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	TEST_ASSERT(fd >= 0);
	TEST_ASSERT(!bind(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
		    !getsockname(fd, (struct sockaddr *)&sa, &len));
	snprintf(to, sizeof(to), "sip:mute@127.0.0.1:%u", ntohs(sa.sin_port));
	if (try_call(fx.alice, to, msg, sizeof(msg))) {
		close(fd);
		TEST_ASSERT(!"call");
	}
	spin(50);
	TEST_ASSERT(stat_of(1) == 1);
	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice, fx.call_id, msg, sizeof(msg)) == 0);
	t0 = g_get_monotonic_time();
	/* at once: no spin between the hangup and this */
	TEST_ASSERT(!strcmp(fx.sink, "1 ended 487 hung up;"));
	TEST_ASSERT(stat_of(0) == 0 && stat_of(1) == 1);
	while (stat_of(1) && g_get_monotonic_time() - t0 < 3000000)
		spin(10);
	close(fd);
	TEST_ASSERT(stat_of(1) == 0);
	TEST_ASSERT(g_get_monotonic_time() - t0 >= 900000);
	return 0;
}

FX_TEST(in_ring_timeout, conf_ring)
FX_TEST(out_call_caps, conf_out_caps)
FX_TEST(out_call_rate, conf_rate)
FX_TEST(out_hangup_silent_peer, conf_linger)

int tnd_test_call_ring_timeout(void)
{
	return test_in_ring_timeout();
}

int tnd_test_call_ring_cap_user(void)
{
	return with_fx(in_ring_cap, conf_ring_user);
}

int tnd_test_call_ring_cap_total(void)
{
	return with_fx(in_ring_cap, conf_ring_total);
}

int tnd_test_call_out_caps(void)
{
	return test_out_call_caps();
}

int tnd_test_call_out_rate(void)
{
	return test_out_call_rate();
}

int tnd_test_call_hangup_silent_peer(void)
{
	return test_out_hangup_silent_peer();
}
