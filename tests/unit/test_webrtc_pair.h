/* The pc pair that test_webrtc_pc.c drives (two pcs on two worker loops
 * over 127.0.0.1), shared with test_webrtc_pc2.c: the side record, the
 * steps run on a side's worker and the waits on the test thread. */
#ifndef TND_TESTS_TEST_WEBRTC_PAIR_H
#define TND_TESTS_TEST_WEBRTC_PAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "tests/unit/test_webrtc.h"
#include "webrtc/webrtc.h"

#define WAIT_MS 10000
#define NPKT 12
#define NRX 16
#define PWD "pwdpwdpwdpwdpwdpwdpwdpwd"
#define HOST9 "candidate:1 1 udp 1 127.0.0.1 9 typ host"

/* guards every side's fields marked LOCK: pair_mu; pair_cond is signalled
 * when one changes */
extern GMutex pair_mu;
extern GCond pair_cond;

struct side {
	const char *name;
	struct tnd_loop *loop;       /* owned by the test */
	struct tnd_pc *pc;           /* ref; OWNER: its worker */
	struct side *peer;
	bool controlling;
	enum tnd_dtls_role role;
	uint16_t port_min, port_max; /* ICE port range, 0 for any */
	unsigned consent_ms, consent_timeout_ms;
	const char *const *addrs;    /* host addresses; NULL: 127.0.0.1 */
	size_t n_addrs;
	const char *const *deny;     /* conf.cand_deny */
	size_t n_deny;
	char fp[200];                /* the peer's fingerprint as this side is told */
	char ufrag[257], pwd[257];   /* written on alloc, read after */
	char rs_ufrag[257], rs_pwd[257];   /* after tnd_pc_ice_restart */
	struct tnd_pc_stats st;      /* copied by do_stats */
	/* LOCK: pair_mu */
	enum tnd_pc_state state;
	int err;
	int n_cands;
	char first_cand[256];
	bool gathered;
	int n_rtp, n_rtcp;
	int n_cand_eperm;            /* the peer's candidates refused by the deny-list */
	uint8_t rx[NRX][TND_PC_MAX_PACKET];
	size_t rx_len[NRX];
};

typedef bool (pred_h)(struct side *a, struct side *b);
typedef int (pair_body_h)(struct side *a, struct side *b);

int post(struct tnd_loop *l, tnd_test_step_h *fn, void *ctx, const char *str,
		bool *done, int *rc);
bool wait_until(pred_h *pred, struct side *a, struct side *b, int ms);
void on_cand(void *arg, const char *cand);
void on_state(void *arg, enum tnd_pc_state st);
int do_alloc(void *ctx, const char *unused);
int do_gather(void *ctx, const char *unused);
int do_stats(void *ctx, const char *unused);
void pair_init(struct side *a, struct side *b);
int pair_start(struct side *a, struct side *b);
int set_remotes(struct side *a, struct side *b);
int connect_pair(struct side *a, struct side *b, bool remote_first);
int exchange(struct side *a, struct side *b);
int with_pair(pair_body_h *body);
typedef int (side_body_h)(struct side *s);
int with_side(side_body_h *body);

#endif
