/* The bridge fixture of test-media (test_media.c, test_media_moh.c): UDP
 * peers on 127.0.0.1 standing for the phones, a bridge on a real worker
 * between them, and a browser (a real tnd_pc on a loop of its own) for the
 * WebRTC legs. Test thread only, which is also the bridge's signalling
 * loop, except where a browser's loop is named. */
#ifndef TND_TEST_MEDIA_FX_H
#define TND_TEST_MEDIA_FX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <glib.h>

#include "gateway/base/obj.h"
#include "gateway/media/media.h"
#include "webrtc/webrtc.h"

struct peer {
	int fd;
	uint16_t port;
	uint8_t pt;      /* the payload type this side's leg carries */
};

struct fixture {
	struct tnd_loop *worker, *signal;
	struct tnd_bridge *br;
	struct peer a, b;
	int ready;
	int ready_err;
	uint16_t b_port_ready;
	int state;                  /* last state event + 1 */
	/* each WebRTC leg's ICE side from its last `ready` */
	struct {
		char ufrag[257], pwd[257];
		char cands[8][256];
		int n_cands;
	} ice[2];
	int ready_b;
	int state_b;                /* leg B's last state + 1 */
};

/* A browser: a real tnd_pc on a loop of its own (the browser's thread),
 * driven by steps queued there; what its handlers see is kept under mu. */
struct browser {
	struct tnd_obj obj;           /* the step job's reference target */
	struct tnd_loop *loop;        /* owned by the test */
	struct tnd_pc *pc;            /* OWNER: loop */
	struct fixture *f;            /* borrowed: the bridge's ICE side */
	unsigned side;                /* the bridge's leg it talks to */
	GMutex mu;
	/* LOCK: mu */
	char ufrag[257], pwd[257];
	char cands[8][256];
	int n_cands;
	bool gathered, connected, step_done;
	int step_err;
	int n_rtp;
	uint32_t ssrc;
	uint16_t first_seq, last_seq;
	uint16_t send_seq;            /* the browser's own outgoing numbering */
};

/* The fixture's bridge events: they fill its ready/state fields. */
extern const struct tnd_bridge_events events;

/* A 172-byte RTP packet (160 bytes of zero payload) into p. */
void mk_rtp(uint8_t *p, uint8_t pt, uint16_t seq, uint32_t ts, uint32_t ssrc);

/* A UDP socket on 127.0.0.1, any port: 0 or errno. */
int peer_open(struct peer *p);
void peer_send(const struct peer *p, uint16_t to, const uint8_t *buf, size_t len);
/* One datagram within ms (the main context turns meanwhile), or -1. */
ssize_t peer_recv(const struct peer *p, uint8_t *buf, size_t cap, int ms);

/* Turns the main context until *flag reaches value, at most ms. */
bool spin_until(int *flag, int value, int ms);

/* A bridge with plain RTP legs between peers a and b (PCMU 0 on A, PCMA 8
 * on B), once a packet crossed each way; timeout_ms its silence timeout.
 * 0 or 1. */
int fixture_up(struct fixture *f, unsigned timeout_ms);
/* Closes it and waits until the objects alive are `live` again: 0 or 1. */
int fixture_down(struct fixture *f, long live);

/* Sends n packets from `from` toward port `to`, waiting for each at `at`;
 * checks each arrives with the expected next sequence number. Returns how
 * many arrived in order. */
int relay_run(struct peer *from, uint16_t to, struct peer *at, uint32_t ssrc, uint16_t seq0,
	      int n, uint16_t *next, bool *have);

/* A bridge whose leg A is WebRTC (leg B plain RTP to peer b): 0 or 1. */
int fixture_up_webrtc(struct fixture *f);
/* A browser for leg A on its own loop, its pc made from the bridge's last
 * `ready`; then the bridge is told the browser's side. NULL on failure. */
struct browser *browser_up(struct fixture *f, unsigned side, uint16_t send_seq0);
void browser_down(struct browser *b);
/* On the browser's loop (tnd_loop_call): ten packets toward the gateway. */
void step_send(void *obj);
/* Waits up to ms for *flag (read under b->mu). */
bool browser_flag(struct browser *b, bool *flag, int ms);
/* Sends from the SIP peer until the browser has `want` more packets. */
bool to_browser(struct fixture *f, struct browser *b, uint16_t *seq, int want);

/* gateway/media hold music (test_media_moh.c) */
int test_moh_load(void);
int test_bridge_hold_music(void);

#endif
