/* webrtc/: the RTP transport for both legs (style guide section 2).
 *
 * - Packet helpers: RTP (RFC 3550 5.1), compound RTCP (RFC 3550 6.4, RFC 4585
 *   6.1), STUN framing (RFC 5389 6, 15) and RFC 7983 demultiplexing. They are
 *   pure functions over caller buffers: any thread, no allocation, base only,
 *   so the fuzzers link them alone.
 * - struct tnd_pc: the browser leg. One BUNDLEd, rtcp-muxed ICE component
 *   (libnice) carrying DTLS-SRTP (RFC 5763, 5764, 7714) on one media worker.
 * - struct tnd_rtpsock: the SIP leg's plain RTP/AVP socket, with symmetric
 *   RTP and source learning, on one media worker.
 * Types here take typed parameters, never SDP. Library types (NiceAgent, SSL,
 * srtp_t) stay behind this header so that it compiles with GLib alone. */
#ifndef TND_WEBRTC_WEBRTC_H
#define TND_WEBRTC_WEBRTC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/base/loop.h"
#include "gateway/base/obj.h"

/* ------------------------------------------------------------ global state */

/* Process-wide set-up, called once from main() before any worker starts:
 * srtp_init(), one ECDSA P-256 self-signed certificate with its key and the
 * shared DTLS context, and the certificate's SHA-256 fingerprint. Not thread
 * safe; 0 or an errno (ENOMEM, EPROTO when OpenSSL or libsrtp2 refuse). */
int tnd_webrtc_init(void);
/* Releases what tnd_webrtc_init() made; after every pc is gone. */
void tnd_webrtc_deinit(void);
/* "sha-256 AB:CD:..." of our certificate, for a=fingerprint; static storage,
 * valid between init and deinit; any thread. */
const char *tnd_webrtc_fingerprint(void);

/* ------------------------------------------------------------ RFC 7983 demux */

enum tnd_demux {
	TND_DEMUX_DROP,    /* empty, ZRTP, TURN channel or outside every range */
	TND_DEMUX_STUN,    /* first byte 0..3 */
	TND_DEMUX_DTLS,    /* 20..63 */
	TND_DEMUX_RTP,     /* 128..191, second byte not 192..223 */
	TND_DEMUX_RTCP,    /* 128..191, second byte 192..223 (RFC 5761 section 4) */
};

/* Classifies a received datagram by its first two bytes only; the packet's
 * own validator still has to run. */
static inline enum tnd_demux tnd_demux_classify(const uint8_t *buf, size_t len)
{
	if (!buf || len < 1)
		return TND_DEMUX_DROP;
	if (buf[0] <= 3)
		return TND_DEMUX_STUN;
	if (buf[0] >= 20 && buf[0] <= 63)
		return TND_DEMUX_DTLS;
	if (buf[0] >= 128 && buf[0] <= 191) {
		if (len < 2)
			return TND_DEMUX_DROP;
		return buf[1] >= 192 && buf[1] <= 223 ? TND_DEMUX_RTCP : TND_DEMUX_RTP;
	}
	return TND_DEMUX_DROP;
}

/* ------------------------------------------------------------ RTP (RFC 3550) */

#define TND_RTP_HDR_LEN 12

/* What tnd_rtp_parse() found; offsets count from the packet's first byte. */
struct tnd_rtp_hdr {
	uint8_t pt;
	bool marker;
	uint16_t seq;
	uint32_t ts;
	uint32_t ssrc;
	uint8_t cc;              /* CSRC count */
	bool ext;                /* header extension present (RFC 3550 5.3.1) */
	uint16_t ext_profile;    /* its defined-by-profile field, when ext */
	size_t ext_off, ext_len; /* extension data (after its 4-byte header) */
	size_t hdr_len;          /* fixed header + CSRCs + extension */
	size_t payload_off;      /* == hdr_len */
	size_t payload_len;      /* without padding */
	uint8_t pad_len;         /* padding octets, including the count octet */
};

/* Validates an RTP packet: version 2, CSRC list, extension length and
 * padding within `len`, padding count at least 1. 0 and *h filled, or EBADMSG
 * (h untouched). Any thread, no allocation. */
int tnd_rtp_parse(const uint8_t *pkt, size_t len, struct tnd_rtp_hdr *h);

/* Field access in place. The caller has checked len >= TND_RTP_HDR_LEN. */
static inline uint32_t tnd_rtp_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Big-endian writers, shared by RTP and STUN (and DTLS records) */
static inline void tnd_rtp_wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void tnd_rtp_wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint8_t tnd_rtp_pt(const uint8_t *pkt)
{
	return pkt[1] & 0x7f;
}

static inline bool tnd_rtp_marker(const uint8_t *pkt)
{
	return pkt[1] & 0x80;
}

static inline uint16_t tnd_rtp_seq(const uint8_t *pkt)
{
	return (uint16_t)(pkt[2] << 8 | pkt[3]);
}

static inline uint32_t tnd_rtp_ts(const uint8_t *pkt)
{
	return tnd_rtp_rd32(pkt + 4);
}

static inline uint32_t tnd_rtp_ssrc(const uint8_t *pkt)
{
	return tnd_rtp_rd32(pkt + 8);
}

static inline void tnd_rtp_set_pt(uint8_t *pkt, uint8_t pt)
{
	pkt[1] = (uint8_t)((pkt[1] & 0x80) | (pt & 0x7f));
}

static inline void tnd_rtp_set_marker(uint8_t *pkt, bool m)
{
	pkt[1] = (uint8_t)((pkt[1] & 0x7f) | (m ? 0x80 : 0));
}

static inline void tnd_rtp_set_seq(uint8_t *pkt, uint16_t seq)
{
	tnd_rtp_wr16(pkt + 2, seq);
}

static inline void tnd_rtp_set_ts(uint8_t *pkt, uint32_t ts)
{
	tnd_rtp_wr32(pkt + 4, ts);
}

static inline void tnd_rtp_set_ssrc(uint8_t *pkt, uint32_t ssrc)
{
	tnd_rtp_wr32(pkt + 8, ssrc);
}

/* ------------------------------------------------------------ RTCP */

#define TND_RTCP_SR    200
#define TND_RTCP_RR    201
#define TND_RTCP_SDES  202
#define TND_RTCP_BYE   203
#define TND_RTCP_APP   204
#define TND_RTCP_RTPFB 205   /* RFC 4585 transport-layer feedback */
#define TND_RTCP_PSFB  206   /* RFC 4585 payload-specific feedback */
#define TND_RTCP_XR    207   /* RFC 3611 */

/* One packet of a compound; `pkt` points into the caller's buffer. */
struct tnd_rtcp_pkt {
	uint8_t pt;
	uint8_t count;    /* RC, SC or FMT: the header's five low bits */
	uint8_t *pkt;     /* borrowed: the packet, header included */
	size_t len;       /* (length + 1) * 4 */
	uint32_t ssrc;    /* first SSRC after the header (the sender's) */
};

typedef int (tnd_rtcp_pkt_h)(void *arg, const struct tnd_rtcp_pkt *p);

/* Validates a compound RTCP packet (RFC 3550 6.4, A.2; RFC 4585 6.1; RFC
 * 5506 reduced size allowed): each packet version 2, its length inside the
 * buffer and exactly covering it, padding only on the last one, and every
 * type we rewrite long enough for what its count announces. Then calls h
 * (may be NULL) for each packet in order; a non-zero return stops the walk
 * and is returned. 0, EBADMSG (nothing called) or h's value. `buf` is not
 * const so that h may rewrite in place. */
int tnd_rtcp_parse(uint8_t *buf, size_t len, tnd_rtcp_pkt_h *h, void *arg);

/* SSRC rewrite for a bridge: a packet's author and the stream it reports on
 * are both on the other leg afterwards. */
struct tnd_rtcp_ssrc_map {
	bool set_sender;
	uint32_t sender;  /* SR/RR/APP/XR/feedback sender, every SDES chunk and BYE SSRC */
	bool set_media;
	uint32_t media;   /* report blocks, feedback media source, FIR/TMMBR/REMB SSRCs */
};

/* Validates like tnd_rtcp_parse() and rewrites SSRCs in place. A zero media
 * SSRC in feedback (RFC 4585 6.1: "not used") stays zero. 0, EINVAL (no
 * map) or EBADMSG (buffer untouched). */
int tnd_rtcp_rewrite_ssrc(uint8_t *buf, size_t len, const struct tnd_rtcp_ssrc_map *map);

/* ------------------------------------------------------------ STUN */

/* RFC 5389 framing check: at least 20 bytes, first byte 0..3 (RFC 7983's
 * STUN range), magic cookie, message length a multiple of 4 matching `len`,
 * attributes (TLV, padded to 4) exactly filling it, MESSAGE-INTEGRITY
 * followed only by FINGERPRINT, FINGERPRINT last and its CRC-32 right.
 * 0 or EBADMSG. Any thread. */
int tnd_stun_check(const uint8_t *buf, size_t len);

/* STUN message classes and the one method ICE uses (RFC 5389 6) */
#define TND_STUN_BINDING_REQUEST 0x0001
#define TND_STUN_BINDING_INDICATION 0x0011
#define TND_STUN_BINDING_SUCCESS 0x0101
#define TND_STUN_BINDING_ERROR 0x0111

/* Framing and the attributes ICE uses (RFC 5389 15, RFC 8445 16.1), shared
 * by the parser (stun.c) and the builders (stun_auth.c) */
#define TND_STUN_HDR_LEN 20
#define TND_STUN_MAGIC 0x2112A442u
#define TND_STUN_FINGERPRINT_XOR 0x5354554eu
#define TND_STUN_ATTR_USERNAME 0x0006
#define TND_STUN_ATTR_INTEGRITY 0x0008
#define TND_STUN_ATTR_ERROR_CODE 0x0009
#define TND_STUN_ATTR_INTEGRITY_SHA256 0x001C
#define TND_STUN_ATTR_XOR_MAPPED 0x0020
#define TND_STUN_ATTR_PRIORITY 0x0024
#define TND_STUN_ATTR_USE_CANDIDATE 0x0025
#define TND_STUN_ATTR_FINGERPRINT 0x8028
#define TND_STUN_ATTR_CONTROLLED 0x8029
#define TND_STUN_ATTR_CONTROLLING 0x802A

/* What ICE needs of a Binding message (RFC 8445 7.1, RFC 7675). Pointers
 * point into the message. */
struct tnd_stun_binding {
	uint16_t type;
	const uint8_t *txid;           /* 12 bytes */
	const char *user;              /* USERNAME, not terminated; NULL if absent */
	size_t user_len;
	size_t integrity_off;          /* MESSAGE-INTEGRITY's header; 0 if absent */
	bool use_candidate;
	bool controlling, controlled;  /* ICE-CONTROLLING / ICE-CONTROLLED present */
	uint32_t priority;             /* 0 if absent */
	uint16_t error;                /* ERROR-CODE class * 100 + number; 0 if absent */
};

/* tnd_stun_check() plus the attributes above. 0, EBADMSG (framing or a
 * known attribute of the wrong size) or ENOTSUP (not a Binding). */
int tnd_stun_parse_binding(const uint8_t *buf, size_t len, struct tnd_stun_binding *b);
/* CRC-32 (ISO-HDLC) as FINGERPRINT uses it, before its XOR */
uint32_t tnd_stun_crc32(const uint8_t *p, size_t n);

/* ------------------------------------------------------------ struct tnd_pc */

/* Room an outgoing packet's buffer needs after the packet for SRTP: the
 * largest authentication tag (16, AES-GCM) plus the SRTCP index (4), rounded
 * up. libsrtp2 writes nothing more without MKI. */
#define TND_PC_SRTP_OVERHEAD 32
/* Largest datagram a pc accepts from the network. */
#define TND_PC_MAX_PACKET 1500

enum tnd_pc_state {
	TND_PC_NEW,        /* made; not reported */
	TND_PC_CONNECTED,  /* ICE up, DTLS done, SRTP keys installed */
	TND_PC_FAILED,     /* ICE failed, DTLS failed or fingerprint mismatch; final */
	TND_PC_CLOSED,     /* the peer sent DTLS close_notify; final */
};

/* ours: ACTIVE = DTLS client (a=setup:active), PASSIVE = DTLS server */
enum tnd_dtls_role {
	TND_DTLS_ACTIVE,
	TND_DTLS_PASSIVE,
};

enum tnd_pc_dtls_state {
	TND_PC_DTLS_NONE,       /* no remote parameters yet */
	TND_PC_DTLS_WAITING,    /* client: waiting for ICE; server: for a ClientHello */
	TND_PC_DTLS_HANDSHAKE,
	TND_PC_DTLS_DONE,
	TND_PC_DTLS_FAILED,
	TND_PC_DTLS_CLOSED,
};

struct tnd_pc_conf {
	/* IP literals offered as host candidates, added with
	 * nice_agent_add_local_address (so 127.0.0.1 works). NULL/0: libnice's
	 * own pick, which skips loopback. Borrowed for tnd_pc_alloc(). */
	const char *const *local_addrs;
	size_t n_local_addrs;
	const char *stun_server;  /* "IP:port" or "[IPv6]:port" literal; NULL for none */
	const char *turn_server;  /* same form, TURN over UDP; NULL for none */
	const char *turn_user, *turn_pass;
	uint16_t port_min, port_max;  /* 0, 0: any port */
	/* with a TURN server: offer and use relayed candidates only (libnice's
	 * force-relay), so every packet goes through the relay */
	bool relay_only;
	/* ICE consent (RFC 7675) once the pc owns its socket: a check every
	 * interval +- 20 %, FAILED (ETIMEDOUT) after `timeout` without an
	 * answer. 0: RFC 7675's 5 s and 30 s. */
	unsigned consent_interval_ms, consent_timeout_ms;
	/* SO_RCVBUF of the socket the pc takes over from libnice (bytes; 0:
	 * the system's default); DSCP EF is set on it too */
	int rcvbuf;
	/* Remote candidate addresses ICE must never send checks to (the
	 * gateway's own networks: loopback, RFC 1918, link-local, metadata):
	 * CIDR prefixes such as "10.0.0.0/8" and "fe80::/10", or bare
	 * addresses (/32, /128); an IPv4-mapped IPv6 candidate is matched as
	 * IPv4. At most TND_PC_MAX_CAND_DENY; parsed once by tnd_pc_alloc()
	 * (EINVAL for a bad entry) and borrowed for that call. NULL/0: none. */
	const char *const *cand_deny;
	size_t n_cand_deny;
};

#define TND_PC_MAX_CAND_DENY 64
/* Remote candidates a pc accepts in all, like the SDP model's
 * TND_SDP_MAX_CANDS */
#define TND_PC_MAX_REMOTE_CANDS 32

typedef void (tnd_pc_candidate_h)(void *arg, const char *cand);
typedef void (tnd_pc_state_h)(void *arg, enum tnd_pc_state state);
typedef void (tnd_pc_pkt_h)(void *arg, uint8_t *pkt, size_t len);

/* All run on the pc's worker, possibly from inside a tnd_pc_* call; the pc
 * holds a reference on itself across each one, so a handler may drop the
 * owner's reference. None runs after tnd_pc_detach(). */
struct tnd_pc_handlers {
	/* "candidate:..." (no "a="), borrowed for the call, for each local
	 * candidate as gathered; NULL once gathering is done. May be NULL. */
	tnd_pc_candidate_h *candidate;
	/* CONNECTED, FAILED or CLOSED; never NULL. */
	tnd_pc_state_h *state;
	/* One decrypted RTP packet (valid per tnd_rtp_parse) or RTCP compound
	 * (valid per tnd_rtcp_parse). `pkt` is the pc's receive buffer, valid
	 * during the call; it has room for len + TND_PC_SRTP_OVERHEAD bytes,
	 * so a handler may rewrite it and pass it to tnd_pc_send_rtp() in
	 * place. May be NULL (dropped). */
	tnd_pc_pkt_h *rtp;
	tnd_pc_pkt_h *rtcp;
};

/* Refcounted (tnd_obj). Lives on one worker: every tnd_pc_* call, every
 * handler and the last tnd_obj_put() happen on that worker's thread, because
 * the NiceAgent is bound to its context. */
struct tnd_pc;

/* Makes a pc and its ICE agent on `worker` (the calling thread must be
 * running it). `ice_controlling`: we are the ICE controlling agent (the
 * offerer). `conf` and `h` are copied; `arg` is passed to the handlers.
 * 0, EINVAL (bad argument or not on the worker) or ENOMEM. */
int tnd_pc_alloc(struct tnd_pc **pcp, struct tnd_loop *worker, const struct tnd_pc_conf *conf,
		 bool ice_controlling, const struct tnd_pc_handlers *h, void *arg);

/* Copies our ICE credentials (libnice makes them at alloc): ufrag 4+ and pwd
 * 22+ characters. Sizes of 257 are always enough. 0 or ENOSPC. */
int tnd_pc_local_ice(const struct tnd_pc *pc, char *ufrag, size_t ufrag_size, char *pwd,
		     size_t pwd_size);

/* ICE restart (RFC 8445 9) once the pc owns its socket (libnice let go):
 * makes new local credentials (CSPRNG; 8-character ufrag, 24-character pwd)
 * and copies them out for the new offer or answer. Until a check made with
 * the new sets succeeds, the peer's checks with the old and the new local
 * credentials are both answered, and media keeps flowing on the current
 * pair; then the old sets are dropped. Calling it again before that
 * replaces the pending set. 0, EINVAL, ENOSPC (sizes of 257 are enough),
 * EALREADY (not yet on its own socket: libnice still runs ICE, or a relayed
 * pair keeps it) or EIO (no randomness). */
int tnd_pc_ice_restart(struct tnd_pc *pc, char *ufrag, size_t ufrag_size, char *pwd,
		       size_t pwd_size);
/* The peer's new ICE credentials after a restart (its new offer or
 * answer); same transition as above. 0, EINVAL (bad ufrag/pwd) or
 * EALREADY (as above). */
int tnd_pc_ice_remote_restart(struct tnd_pc *pc, const char *ufrag, const char *pwd);

/* Starts gathering; candidates arrive through h->candidate (trickle), the
 * host ones possibly before this returns. 0, EALREADY or EIO. */
int tnd_pc_gather(struct tnd_pc *pc);

/* The peer's ICE credentials, certificate fingerprint ("sha-256 AB:..";
 * sha-1, sha-384 and sha-512 are accepted too) and our DTLS role. Once only,
 * before or after tnd_pc_gather(); a ClientHello that came earlier is
 * answered now. 0, EINVAL (bad ufrag/pwd), EBADMSG (bad fingerprint),
 * EALREADY, ENOMEM. */
int tnd_pc_set_remote(struct tnd_pc *pc, const char *ufrag, const char *pwd,
		      const char *fingerprint, enum tnd_dtls_role role);

/* One remote candidate ("candidate:..." with or without "a="), or NULL for
 * end-of-candidates. Before tnd_pc_set_remote() and tnd_pc_gather() they are
 * kept and applied then. ICE cannot fail before end-of-candidates (trickle),
 * so the owner needs its own timeout for peers that never send it. 0,
 * EBADMSG (unparsable, or the address not an IP literal), ENOTSUP (TCP, an
 * mDNS name, the RTCP component: rtcp-mux and BUNDLE only; safe to skip),
 * EPERM (the address is in conf.cand_deny, unspecified, multicast or
 * broadcast: never reaches libnice), EBUSY (TND_PC_MAX_REMOTE_CANDS
 * accepted already; the rest are refused), EALREADY (after the end). */
int tnd_pc_add_remote_candidate(struct tnd_pc *pc, const char *cand);

/* SRTP-protects an RTP packet (or a compound RTCP packet) in place and sends
 * it. `cap` is the buffer's size; it needs len + TND_PC_SRTP_OVERHEAD. No
 * allocation. 0, ENOTCONN (not CONNECTED), EBADMSG (not RTP/RTCP), ENOSPC,
 * EPROTO (SRTP refused), EIO (ICE send failed). The buffer's content is
 * undefined afterwards. */
int tnd_pc_send_rtp(struct tnd_pc *pc, uint8_t *pkt, size_t len, size_t cap);
int tnd_pc_send_rtcp(struct tnd_pc *pc, uint8_t *pkt, size_t len, size_t cap);

/* Sends DTLS close_notify (the peer sees CLOSED) and stops media; our state
 * becomes CLOSED without a handler call, and no candidate or state handler
 * runs after it. */
void tnd_pc_close(struct tnd_pc *pc);
/* Cuts the owner off: clears the handlers and `arg`, so that none of them
 * is ever called again, from libnice's signals, OpenSSL's timer, a queued
 * hand-over or anything else. Other references (a queued hand-over, a
 * gathering kept open by a slow STUN or TURN server, a job in flight) can
 * keep the pc alive after its owner is gone: the owner calls this (after
 * tnd_pc_close() when it hangs up) before it drops its reference. Does not
 * close. Idempotent; NULL is ignored. Worker thread. */
void tnd_pc_detach(struct tnd_pc *pc);

/* Drops the owner's reference. When it is the last, the pc is freed after
 * the worker's current batch, never under a handler still on the stack:
 * owners let go this way, not with tnd_obj_put(), which is what lets the
 * packet path run without taking a reference per datagram. Worker thread. */
void tnd_pc_release(struct tnd_pc *pc);

enum tnd_pc_state tnd_pc_state(const struct tnd_pc *pc);
/* Why the pc FAILED: ETIMEDOUT (ICE failed or consent lost), EPERM
 * (fingerprint mismatch), EPROTO (DTLS failed); 0 otherwise. */
int tnd_pc_error(const struct tnd_pc *pc);

/* Per-pc counters, written on the worker without atomics; read them there. */
struct tnd_pc_stats {
	uint64_t rtp_in, rtcp_in, bytes_in;     /* delivered, decrypted bytes */
	uint64_t rtp_out, rtcp_out, bytes_out;  /* sent, before protection */
	uint64_t srtp_err_in;      /* unprotect failed (auth, replay) */
	uint64_t srtp_err_out;     /* protect failed, or no room */
	uint64_t send_err;         /* libnice refused a datagram */
	uint64_t drop_early;       /* RTP/RTCP before CONNECTED or after the end */
	uint64_t drop_stun;        /* STUN libnice passed up (not its own) */
	uint64_t drop_bad_stun;    /* STUN-range bytes that are not STUN */
	uint64_t drop_dtls;        /* DTLS we could not use (after failure, app data) */
	uint64_t drop_bad_rtp;     /* RTP/RTCP malformed after decryption, or too big */
	uint64_t drop_other;       /* outside every RFC 7983 range */
	/* once ICE is done on a UDP pair without a relay, the pc reads and
	 * sends on the pair's socket itself and libnice is let go (direct.c) */
	bool direct;
	/* OpenSSL's state freed once the peer's first SRTP proved its handshake
	 * done; the record keys stay for close_notify (AES-GCM suites) */
	bool dtls_released;
	uint64_t drop_foreign;     /* not STUN, from an address off the selected pair */
	uint64_t stun_answered;    /* the peer's checks we answered (direct) */
	uint64_t stun_refused;     /* Binding requests with wrong credentials (direct) */
	uint64_t consent_sent, consent_ok;   /* our consent checks (RFC 7675) */
	/* direct ICE (RFC 8445 7.3.1.3-7.3.1.5) after the hand-over */
	uint64_t stun_rate_limited;   /* Binding requests over the per-pc budget, dropped */
	uint64_t stun_replayed;       /* a transaction id seen before from another address */
	uint64_t ice_triggered;       /* our checks to a new (peer-reflexive) address */
	uint64_t ice_switches;        /* media moved to a checked, consented address */
	uint64_t ice_restarts;        /* credential sets replaced after a restart */
	enum tnd_pc_dtls_state dtls_state;
	const char *srtp_profile;  /* "AEAD_AES_128_GCM", "AES_CM_128_HMAC_SHA1_80" or "" */
	/* g_get_monotonic_time() of the milestones, 0 until reached */
	int64_t t_alloc_us, t_remote_us, t_ice_us, t_connected_us;
};

void tnd_pc_stats(const struct tnd_pc *pc, struct tnd_pc_stats *st);

/* ------------------------------------------------------------ struct tnd_rtpsock */

/* Defaults of the zero fields of struct tnd_rtpsock_conf. Probation is RFC
 * 3550 A.1's MIN_SEQUENTIAL: the second in-sequence packet with one SSRC
 * proves a source. It filters stray and replayed single datagrams and a port
 * scanner's probes for 20 ms of audio; more would only delay a NAT rebinding,
 * as a deliberate sender passes any count. The IP, window and liveness rules
 * are what keep a stranger out. */
#define TND_RTPSOCK_PROBATION 2
#define TND_RTPSOCK_LEARN_WINDOW_MS 3000
#define TND_RTPSOCK_ALIVE_MS 5000
#define TND_RTPSOCK_DSCP_EF 46                  /* RFC 3246, RFC 4594 telephony */
/* Small on purpose: a worker that falls behind drops packets rather than
 * deliver each one seconds late (the relay degrades instead of collapsing);
 * about 20 audio packets' worth once the kernel doubles it */
#define TND_RTPSOCK_RCVBUF (16 * 1024)

struct tnd_rtpsock_conf {
	const char *addr;            /* local IP literal to bind; borrowed */
	uint16_t port_min, port_max; /* RTP takes an even port in the range; 0, 0: 16384..32767 */
	bool rtcp_port;              /* also bind port + 1 for RTCP; else rtcp-mux */
	/* source learning, see struct tnd_rtpsock; 0 takes the default */
	bool strict;                 /* never learn a source off the SDP or signalling IP */
	unsigned probation;          /* in-sequence RTP packets to learn a source: 2 */
	unsigned learn_window_ms;    /* another IP only this long into the leg: 3000 */
	unsigned alive_ms;           /* a source heard within this is never replaced: 5000 */
	/* socket options; failing to set them is logged, not fatal */
	int dscp;                    /* DSCP of what we send: 0 = EF (46), -1 = the system's */
	unsigned rcvbuf;             /* SO_RCVBUF in bytes: 0 = TND_RTPSOCK_RCVBUF */
	/* SDES-SRTP is mandatory here: until tnd_rtpsock_set_srtp gives keys,
	 * RTP and RTCP are neither accepted (counted as drop_srtp) nor sent */
	bool srtp_required;
};

/* Run on the worker; the buffer is the socket's, valid during the call.
 * Either may be NULL. */
struct tnd_rtpsock_handlers {
	tnd_pc_pkt_h *rtp;   /* valid RTP (tnd_rtp_parse) */
	tnd_pc_pkt_h *rtcp;  /* valid compound RTCP (tnd_rtcp_parse) */
};

struct tnd_rtpsock_stats {
	uint64_t rtp_in, rtcp_in, bytes_in, rtp_out, rtcp_out, bytes_out;
	uint64_t send_err;
	uint64_t latches;           /* times a destination moved to a packet's source */
	uint64_t drop_garbage;      /* not RTP/RTCP (STUN, DTLS, other, malformed) */
	uint64_t drop_foreign;      /* valid, from a source the learning rules refuse */
	uint64_t drop_probation;    /* valid RTP from a source still on probation */
	uint64_t drop_no_remote;    /* sends before a remote was set */
	uint64_t drop_too_big;
	uint64_t drop_srtp;         /* SDES-SRTP on: failed to authenticate (or replayed) */
	int64_t last_rx_us;         /* g_get_monotonic_time() of the last accepted
				     * RTP or RTCP; 0 before any */
	bool connected;             /* the RTP socket is connect()ed to its source */
};

/* Refcounted (tnd_obj); pinned to a worker like tnd_pc, which also drops the
 * last reference. Where the SIP peer's media comes from and ours goes
 * (symmetric RTP, RFC 4961, for peers behind NAT, without RTP Bleed):
 * - The SDP address (tnd_rtpsock_set_remote) is preferred: we send there
 *   first, and a packet from it is always accepted.
 * - Another port of the SDP IP or of the signalling IP
 *   (tnd_rtpsock_set_signal_ip), a NAT's rebinding, is learned after
 *   probation: conf.probation in-sequence packets with one SSRC (RFC 3550
 *   A.1). Not in strict mode: another IP, after probation, during the
 *   learning window (conf.learn_window_ms from the first SDP address or the
 *   first packet). Nothing moves while the current source has been heard
 *   within conf.alive_ms, except to the SDP address, or to the SDP or
 *   signalling IP away from a source learned on another IP.
 * - set_remote with the same addresses changes nothing (a 200 repeating the
 *   183's SDP); new addresses restart learning for them.
 * - RTCP, on either port, is accepted only from the RTP destination's IP;
 *   RTCP goes to that IP, at a port learned from RTCP there (else the SDP's
 *   RTCP port, or the learned RTP port + 1).
 * - A settled source (heard from, and on the SDP or signalling IP or past
 *   the window) gets the socket connect()ed: the kernel drops every other
 *   sender and sends skip the route lookup. A source silent for alive_ms
 *   (RTCP: 3 times that) is disconnected again at our next send, so a NAT
 *   rebinding can be learned; new remote addresses disconnect at once. */
struct tnd_rtpsock;

/* Binds the sockets on the calling worker. 0, EINVAL, EADDRINUSE (no free
 * port pair in the range), ENOMEM or a socket errno. */
int tnd_rtpsock_alloc(struct tnd_rtpsock **sp, struct tnd_loop *worker,
		      const struct tnd_rtpsock_conf *conf, const struct tnd_rtpsock_handlers *h,
		      void *arg);
/* Local RTP port (RTCP is port + 1 when conf.rtcp_port). */
uint16_t tnd_rtpsock_port(const struct tnd_rtpsock *s);
/* The SDP's address; rtcp_port 0 means port + 1 (or port with rtcp-mux).
 * Restarts learning unless identical to the last; *moved (when not NULL)
 * says whether it was new, so the owner can take what arrives next as a new
 * source. 0 or EINVAL. */
int tnd_rtpsock_set_remote(struct tnd_rtpsock *s, const char *ip, uint16_t port,
			   uint16_t rtcp_port, bool *moved);
/* The IP the SIP peer's signalling came from: its other ports may be learned
 * like the SDP IP's. Restarts nothing, except in strict mode when the source
 * was learned at the previous signalling IP. 0 or EINVAL. */
int tnd_rtpsock_set_signal_ip(struct tnd_rtpsock *s, const char *ip);
/* Sends to the current remote. 0, ENOTCONN (no remote), EAGAIN (socket
 * full) or a socket errno. */
int tnd_rtpsock_send_rtp(struct tnd_rtpsock *s, const uint8_t *pkt, size_t len);
int tnd_rtpsock_send_rtcp(struct tnd_rtpsock *s, const uint8_t *pkt, size_t len);
/* Current RTP remote as "ip:port" into buf (for logs and tests). */
void tnd_rtpsock_remote(const struct tnd_rtpsock *s, char *buf, size_t size);
/* The same for the RTCP destination. */
void tnd_rtpsock_remote_rtcp(const struct tnd_rtpsock *s, char *buf, size_t size);
void tnd_rtpsock_stats(const struct tnd_rtpsock *s, struct tnd_rtpsock_stats *st);
/* SDES-SRTP (RFC 4568) on this socket, e.g. toward a PBX or trunk that
 * offers a=crypto: from now on every RTP and RTCP packet is protected on
 * send, and must authenticate on receive (before the source learning sees
 * it: a stranger cannot steer the socket with forged packets). `suite` is
 * "AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "AEAD_AES_128_GCM"
 * or "AEAD_AES_256_GCM"; `tx` and `rx` are the decoded inline key||salt
 * (30, 30, 28 or 44 bytes) we send with and the peer sends with. Once
 * per socket. 0, EINVAL (unknown suite, wrong length), EALREADY, ENOMEM or
 * EPROTO (libsrtp2 refused). */
int tnd_rtpsock_set_srtp(struct tnd_rtpsock *s, const char *suite, const uint8_t *tx,
			 size_t tx_len, const uint8_t *rx, size_t rx_len);
/* Drops the owner's reference, as tnd_pc_release() does for a pc: the last
 * one frees the socket after the current batch. Owners let go this way
 * (also from inside a handler). Worker thread. */
void tnd_rtpsock_release(struct tnd_rtpsock *s);
/* True once tnd_rtpsock_set_remote() gave a remote. */
bool tnd_rtpsock_has_remote(const struct tnd_rtpsock *s);
/* The owner lets go: no handler runs after this (its reference may still
 * be dropped later, on the worker). */
void tnd_rtpsock_detach(struct tnd_rtpsock *s);

#endif
