/* The fixture of the gateway/call tests (test_call_fx.c), shared with the
 * scenarios (test_call.c): the gateway's SIP user agent and media pool, the
 * SIP peer, the browser-side sink that records notifications, and the waits
 * the test thread (the signalling loop) spins in. */
#ifndef TND_TESTS_TEST_CALL_FX_H
#define TND_TESTS_TEST_CALL_FX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/base/obj.h"
#include "gateway/call/call.h"
#include "gateway/conf.h"
#include "gateway/media/media.h"
#include "sip/sip.h"
#include "tests/unit/test_call.h"

#define L(s) s "\r\n"
#define FP "16:E5:F6:0F:20:7A:1A:00:73:45:1C:35:A9:D3:15:D1:7F:DC:17:D7:FA:B6:64:49:" \
	"B0:0C:DF:AA:DC:8B:24:9E"
#define WAIT_MS TND_TEST_CALL_WAIT_MS
#define NPEER 4          /* SIP peer's dialogs one test keeps apart */
#define LOGLEN 2048

/* What a browser sends: an offer (Opus, G.711, telephone-event) and the
 * answer to the gateway's offer for a call from SIP */
extern const char browser_offer[];
extern const char browser_answer[];
/* configurations a test runs under */
extern const char conf_default[], conf_dialplan[], conf_timeout[];

/* A browser's WebSocket, as the API would pass it: an opaque tnd_obj. */
struct conn {
	struct tnd_obj obj;
	int id;
};

/* A pending `call` request. */
struct req {
	struct tnd_obj obj;
};

/* One dialog of the SIP peer, either direction. */
struct pcall {
	struct tnd_sipcall *sc;      /* ref; NULL once ended */
	char log[LOGLEN];            /* "invite;180;200;ended 200 remote-bye;" */
	char sdp[LOGLEN];            /* the gateway's offer (in) or answer (out) */
	bool ended;
	int end_status;
};

struct fx {
	struct tnd_conf *conf;            /* owned */
	struct tnd_loop *signal;          /* owned: the default context */
	struct tnd_media_pool *pool;      /* owned */
	struct tnd_sipua *gw, *peer;      /* owned */
	uint16_t gw_port, peer_port;
	struct tnd_calls *calls;          /* owned */
	struct conn *alice, *alice2;      /* refs */
	unsigned n_alice;                 /* connections the lookup returns */
	int media_fd;                     /* the SIP peer's RTP socket */
	uint16_t media_port;

	char sink[LOGLEN];                /* "1 ringing 180 Ringing;..." */
	char incoming_id[32];             /* last `incoming` call id */
	char incoming_sdp[LOGLEN];
	char incoming_display[256];
	int n_incoming;
	char gw_cands[LOGLEN];            /* trickled to the browser: "a=candidate:..." */
	bool gw_cands_done;

	bool done;                        /* the `call` request's completion */
	int done_err;
	char done_msg[256], call_id[32], answer[LOGLEN];

	struct pcall pc[NPEER];
	unsigned n_pc;
	bool peer_auto_ring;              /* 180 to every INVITE at once */
	/* the peer's SDP m= payload types and attribute lines instead of PCMU
	 * (offer: peer_invite; answer: peer_answer), NULL for the default */
	const char *peer_fmts, *peer_attrs;
	unsigned drained;                 /* the drain's end, counted */
	bool drained_flag;
	char regs[LOGLEN];                /* the observer's registration events:
					   * "a failed 403 sockets=1;..." */
};

extern struct fx fx;

void call_done(void *r, int err, const char *msg, const char *call, const char *sdp);
int peer_answer(struct pcall *pc);
struct pcall *peer_invite(const char *user);
struct pcall *peer_invite_as(const char *user, const char *display);
void spin(int ms);
struct pcall *start_call(void);
bool wait_flag(const bool *flag, int ms);
bool wait_for(const char *log, const char *needle, int ms);
bool wait_idle(int ms);
int with_fx(int (*body)(void), const char *conf_text);

/* test_call_limit.c: [calls] limits, ring timeout, hangup at once */
int tnd_test_call_ring_timeout(void);
int tnd_test_call_ring_cap_user(void);
int tnd_test_call_ring_cap_total(void);
int tnd_test_call_out_caps(void);
int tnd_test_call_out_rate(void);
int tnd_test_call_hangup_silent_peer(void);
/* test_call_xcode.c: codec choice and transcoding between the legs */
int tnd_test_call_in_pcma_ptime30_opus(void);
int tnd_test_call_out_peer_answers_pcma(void);
int tnd_test_call_out_peer_answers_g729(void);
/* test_call_xfer.c: transfer, REFER both ways */
int tnd_test_call_xfer(void);
/* test_call_dtmf.c: SIP INFO both ways, the dtmf request's checks */
int tnd_test_call_dtmf_info(void);
int tnd_test_call_dtmf_checks(void);
/* test_call_hold.c: hold and resume both ways */
int tnd_test_call_hold_browser(void);
int tnd_test_call_hold_peer(void);
/* test_call_reneg.c: the browser's renegotiate */
int tnd_test_call_reneg(void);
/* test_call_drain.c: the graceful drain */
int tnd_test_call_drain_last_call(void);
int tnd_test_call_drain_timeout(void);
int tnd_test_call_drain_idle(void);
/* test_call_reg.c: registrations */
int tnd_test_call_reg_refused(void);
/* test_call_sdes.c */
int tnd_test_call_sdes_out_mandatory(void);
int tnd_test_call_sdes_in_mandatory_plain(void);
int tnd_test_call_sdes_optional(void);
int tnd_test_call_reg_detach_pending(void);
int tnd_test_call_reg_bad_params(void);
int tnd_test_call_reg_requests(void);
int tnd_test_call_reg_message_as(void);
int tnd_test_call_reg_observed(void);

/* test_call_reattach.c: calls that outlive their WebSocket */
int tnd_test_call_reattach_same_pc(void);
int tnd_test_call_reattach_grace_ends(void);
int tnd_test_call_reattach_takeover(void);
int tnd_test_call_reattach_new_offer(void);
int tnd_test_call_reattach_logout(void);
int tnd_test_call_reattach_incoming(void);
int tnd_test_call_reattach_browser_silent(void);

#define FX_TEST(name, conf) \
	static int test_##name(void) \
	{ \
		return with_fx(name, conf); \
	}

#endif
