/* Private to webrtc/: the parts of struct tnd_pc that cert.c, dtls.c,
 * srtp.c, ice.c and pc.c share.
 *
 * Everything here runs on the pc's worker except the global set-up in
 * cert.c (main thread, before workers start) and tnd_webrtc_fp_parse (any
 * thread). libsrtp2's types stay in srtp.c so that this header compiles with
 * the system include path alone. */
#ifndef TND_WEBRTC_INT_H
#define TND_WEBRTC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nice/agent.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include "gateway/base/obj.h"
#include "webrtc/learn_int.h"
#include "gateway/base/poll.h"
#include "webrtc/webrtc.h"

/* ------------------------------------------------------------ cert.c */

/* A certificate fingerprint (RFC 8122 section 5) */
struct tnd_fp {
	const EVP_MD *md;           /* static OpenSSL digest, never freed */
	unsigned len;
	uint8_t d[EVP_MAX_MD_SIZE];
};

/* "sha-256 AB:CD:.." (hash names case-insensitive; sha-1, sha-224, sha-256,
 * sha-384, sha-512). 0 or EBADMSG. */
int tnd_webrtc_fp_parse(const char *s, struct tnd_fp *fp);
/* The shared DTLS context (borrowed); SSL_new() on it from any worker. */
SSL_CTX *tnd_webrtc_ssl_ctx(void);

/* ------------------------------------------------------------ srtp.c */

/* Where keys come from (the one seam between the two keying paths): both end
 * in tnd_srtp_alloc() with a struct tnd_srtp_keys.
 * - DTLS-SRTP (browser legs, always): dtls.c exports the keys after the
 *   handshake (RFC 5764 4.2) and pc.c installs them; the profile is what
 *   DTLS negotiated (AES_CM_128_HMAC_SHA1_80 or AEAD_AES_128_GCM).
 * - SDES (RFC 4568, SIP legs with [media] sip_srtp optional or mandatory and
 *   a peer that agreed to a=crypto): gateway/call reads both inline keys
 *   from the SDP and tnd_rtpsock_set_srtp() builds the keys here with
 *   tnd_srtp_keys_sdes(); any of the four suites below.
 * Nothing else makes SRTP sessions. */

/* Ids: IANA DTLS-SRTP protection profiles (RFC 5764 4.1.2, RFC 7714 14.2);
 * SDES names the same transforms by suite name (RFC 4568 6.2, RFC 7714 12). */
enum tnd_srtp_profile {
	TND_SRTP_AES128_CM_SHA1_80 = 0x0001,
	TND_SRTP_AES128_CM_SHA1_32 = 0x0002,   /* SRTCP keeps the 80-bit tag */
	TND_SRTP_AEAD_AES_128_GCM = 0x0007,
	TND_SRTP_AEAD_AES_256_GCM = 0x0008,
};

/* 32-byte key + 12-byte salt (AES-256-GCM); CM: 16 + 14; AES-128-GCM: 16 + 12 */
#define TND_SRTP_MAX_KEY_SALT 44

/* Master keys for one SRTP session pair, key then salt in each array. Also
 * fit for SDES (RFC 4568), which is why it is not DTLS-specific. */
struct tnd_srtp_keys {
	enum tnd_srtp_profile profile;
	size_t key_len, salt_len;
	uint8_t tx[TND_SRTP_MAX_KEY_SALT];   /* what we protect with */
	uint8_t rx[TND_SRTP_MAX_KEY_SALT];   /* what the peer protects with */
};

/* The SDES path into struct tnd_srtp_keys: `suite` is an RFC 4568 / RFC 7714
 * suite name ("AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32",
 * "AEAD_AES_128_GCM", "AEAD_AES_256_GCM"); tx and rx are key||salt of
 * exactly that suite's length (30, 30, 28, 44). 0 or EINVAL. */
int tnd_srtp_keys_sdes(struct tnd_srtp_keys *k, const char *suite, const uint8_t *tx,
		       size_t tx_len, const uint8_t *rx, size_t rx_len);

/* Single owner (the pc): inbound and outbound libsrtp2 sessions. */
struct tnd_srtp;

/* srtp_init() and the log handler; cert.c calls them. */
int tnd_srtp_global_init(void);
void tnd_srtp_global_deinit(void);

int tnd_srtp_alloc(struct tnd_srtp **sp, const struct tnd_srtp_keys *keys);
void tnd_srtp_free(struct tnd_srtp *s);
/* Remote SSRCs one session decrypts at most: libsrtp2 makes (allocates) a
 * stream for each new one it authenticates, and an authenticated peer must
 * not grow a call's memory without bound (review L3). Audio uses 1 or 2;
 * simulcast video with RTX 7. */
#define TND_SRTP_MAX_IN_SSRC 8

/* In place. protect: 0, ENOSPC (cap - *len below the profile's trailer),
 * EALREADY (this SSRC's index was protected before, or lies behind the
 * 1024-packet window where that cannot be told: never twice, as a new
 * payload under a used index reuses keystream, review C1) or EPROTO;
 * unprotect: 0, EALREADY (replayed), ENOSPC (a new SSRC past
 * TND_SRTP_MAX_IN_SSRC, dropped and counted) or EBADMSG (authentication,
 * framing). */
int tnd_srtp_protect(struct tnd_srtp *s, uint8_t *pkt, size_t *len, size_t cap, bool rtcp);
int tnd_srtp_unprotect(struct tnd_srtp *s, uint8_t *pkt, size_t *len, bool rtcp);
/* Packets unprotect refused for a new SSRC past the cap. */
uint64_t tnd_srtp_ssrc_refused(const struct tnd_srtp *s);
const char *tnd_srtp_profile_name(enum tnd_srtp_profile p);

/* ------------------------------------------------------------ dtls.c */

/* The custom BIO method DTLS records pass through; made by cert.c. */
int tnd_dtls_global_init(void);
void tnd_dtls_global_deinit(void);

struct tnd_dtls_handlers {
	/* one datagram to the peer */
	void (*send)(void *arg, const uint8_t *buf, size_t len);
	/* handshake over: err 0 and keys, or EPERM (fingerprint) / EPROTO */
	void (*done)(void *arg, int err, const struct tnd_srtp_keys *keys);
	/* the peer's close_notify */
	void (*closed)(void *arg);
};

/* Single owner (the pc). Runs OpenSSL's DTLS_method over datagrams handed in
 * by tnd_dtls_input and out through h->send, with its retransmission timer
 * on `ctx`. Handlers run from inside tnd_dtls_start/input/close and from the
 * timer, never after tnd_dtls_free. */
struct tnd_dtls;

int tnd_dtls_alloc(struct tnd_dtls **dp, GMainContext *ctx, bool client, const struct tnd_fp *fp,
		   const struct tnd_dtls_handlers *h, void *arg);
void tnd_dtls_free(struct tnd_dtls *d);
/* Client: sends the ClientHello. Server: nothing. */
void tnd_dtls_start(struct tnd_dtls *d);
/* One received datagram. 0 when DTLS used it, ENOTSUP when it carried
 * application data (no data channels) or came after the end. */
int tnd_dtls_input(struct tnd_dtls *d, const uint8_t *buf, size_t len);
/* The record keys for the association's end (dtls_end.c), once the
 * handshake is done and nothing was closed; ENOTSUP for a suite other than
 * AES-GCM, EALREADY before the end of the handshake or after close. */
struct tnd_dtls_end;
int tnd_dtls_export_end(struct tnd_dtls *d, struct tnd_dtls_end **out);
/* Sends close_notify once. */
void tnd_dtls_close(struct tnd_dtls *d);
/* SSL_CTX_set_cert_verify_callback(): the peer's leaf certificate against
 * the SDP fingerprint of the tnd_dtls behind the SSL. 1 accepts. */
int tnd_dtls_verify_cert(X509_STORE_CTX *x, void *arg);

/* ------------------------------------------------------------ addresses */

/* rtpsock.c, shared with direct.c: "ip:port" ("[ip]:port" for IPv6) for
 * logs. The comparisons are in learn_int.h. */
void tnd_webrtc_sa_str(const struct sockaddr_storage *ss, char *buf, size_t size);
/* rtpsock.c, for every media socket (direct.c too): DSCP `dscp` (0..63; -1
 * leaves the system's) as IP_TOS, or IPV6_TCLASS (and IP_TOS for a
 * dual-stack socket's IPv4) for AF_INET6; SO_RCVBUF `rcvbuf` bytes when > 0
 * (the kernel caps it at net.core.rmem_max). Sets what it can; 0 or the
 * first errno, which callers log and otherwise ignore. */
int tnd_sock_media_opts(int fd, int family, int dscp, int rcvbuf);
/* Reads one datagram into buf (TND_POLL_BUF_SIZE bytes: the worker's
 * receive buffer). Its full length (past TND_PC_MAX_PACKET: the caller
 * drops it), or -1 with nothing to read. *len: from's size in, its length
 * out. The one receive path of rtpsock.c and direct.c. */
ssize_t tnd_sock_recv_one(int fd, uint8_t *buf, struct sockaddr_storage *from, socklen_t *len);

/* ------------------------------------------------------------ stun_auth.c */

/* A short-term credential's HMAC-SHA1 key (RFC 5389 15.4) with its padded
 * blocks already hashed, so that signing or checking a message allocates
 * nothing (stun_auth.c says why this is not EVP_MAC). Plain memory: copy,
 * and wipe with tnd_stun_key_clear. */
struct tnd_stun_key {
	SHA_CTX inner, outer;
};

void tnd_stun_key_set(struct tnd_stun_key *k, const char *pwd);
void tnd_stun_key_clear(struct tnd_stun_key *k);

/* What a Binding request of ours carries (RFC 8445 7.2.2, 7.1.2) */
struct tnd_stun_req {
	const char *user;          /* "their ufrag:our ufrag" */
	uint32_t priority;
	bool controlling;          /* ICE-CONTROLLING, else ICE-CONTROLLED */
	uint64_t tiebreaker;
	bool use_candidate;        /* controlling only: nominates the pair */
};

/* A Binding request with USERNAME, PRIORITY, USE-CANDIDATE if asked,
 * ICE-CONTROLLING or -CONTROLLED, MESSAGE-INTEGRITY (key `k`, the peer's
 * password) and FINGERPRINT; its length, 0 when `cap` is too small. */
size_t tnd_stun_build_request(uint8_t *buf, size_t cap, const uint8_t txid[12],
			      const struct tnd_stun_req *r, const struct tnd_stun_key *k);
/* A Binding success response with XOR-MAPPED-ADDRESS `from`,
 * MESSAGE-INTEGRITY (key `k`, our password) and FINGERPRINT; its length
 * or 0. */
size_t tnd_stun_build_success(uint8_t *buf, size_t cap, const uint8_t txid[12],
			      const struct sockaddr_storage *from, const struct tnd_stun_key *k);
/* MESSAGE-INTEGRITY at `integrity_off` (tnd_stun_parse_binding) against
 * `k`. The header is changed and restored. 0 or EACCES. No allocation. */
int tnd_stun_verify(uint8_t *buf, size_t len, size_t integrity_off, const struct tnd_stun_key *k);

/* ------------------------------------------------------------ ice_direct.c */

/* ICE after libnice, without sockets or clocks (they are passed in), so
 * that tests and a fuzzer can drive it: answers the peer's checks, keeps
 * RFC 7675 consent per address, learns peer-reflexive addresses (RFC 8445
 * 7.3.1.3-7.3.1.5) and moves media to one only after our own check to it
 * succeeded, and carries an ICE restart's two credential sets. Fixed size,
 * no allocation after tnd_icd_init. OWNER: the pc's worker. */
#define TND_ICD_SLOTS 5         /* the selected address and 4 peer-reflexive ones */
#define TND_ICD_TXNS 16         /* our checks in flight */
#define TND_ICD_SEEN 8          /* the peer's latest request transaction ids */
#define TND_ICD_FRAG_MAX 256
#define TND_ICD_REQ_BURST 50    /* requests a pc answers back to back (per bucket) */
#define TND_ICD_REQ_RATE 50     /* and per second after that */
#define TND_ICD_SWITCH_GAP_US 1000000   /* one move of the media per second at most */

typedef int (tnd_icd_send_h)(void *arg, const uint8_t *buf, size_t len,
			     const struct sockaddr_storage *to, socklen_t to_len);

struct tnd_icd_conf {
	const char *local_ufrag, *local_pwd;     /* borrowed for init */
	const char *remote_ufrag, *remote_pwd;
	const struct sockaddr_storage *remote;   /* the pair libnice nominated */
	socklen_t remote_len;
	bool controlling;
	uint32_t priority;                       /* our candidate's */
	int64_t interval_us, timeout_us;         /* RFC 7675: 5 s and 30 s */
	tnd_icd_send_h *send;
	void *arg;
	struct tnd_pc_stats *st;                 /* borrowed: counters written here */
};

struct tnd_icd_cred {
	bool set;
	char ufrag[TND_ICD_FRAG_MAX + 1];
	struct tnd_stun_key key;
};

struct tnd_icd_addr {
	struct sockaddr_storage sa;
	socklen_t len;               /* 0: slot free */
	int64_t consent_us;          /* last authentic answer to our check from it; 0 none */
	int64_t heard_us;            /* last authentic request from it */
	int64_t check_us;            /* our last check to it */
	int64_t nominated_us;        /* last USE-CANDIDATE from it (we are controlled) */
};

struct tnd_icd_txn {
	uint8_t id[12];
	uint8_t slot;
	uint8_t gen;                 /* credential sets: 0 current, 1 after a restart */
	bool live, nominate;
};

struct tnd_icd_seen {
	uint8_t id[12];
	uint8_t slot;
	bool live;
};

struct tnd_icd {
	tnd_icd_send_h *send;
	void *arg;
	struct tnd_pc_stats *st;     /* borrowed */
	bool controlling;
	uint32_t priority;
	uint64_t tiebreaker;
	int64_t interval_us, timeout_us;
	/* [0] in use, [1] from a restart until a check with it succeeds */
	struct tnd_icd_cred local[2], remote[2];
	struct tnd_icd_addr a[TND_ICD_SLOTS];
	unsigned sel;                /* the slot media goes to */
	struct tnd_icd_txn txn[TND_ICD_TXNS];
	unsigned txn_next;
	struct tnd_icd_seen seen[TND_ICD_SEEN];
	unsigned seen_next;
	/* token buckets, in microtokens: the selected address's and everyone
	 * else's, so strangers cannot starve the working path's checks */
	int64_t tokens[2], tokens_us[2];
	int64_t switch_us;           /* last move of the media */
	int64_t next_us;             /* next consent check to the selected address */
	uint8_t rnd[96];             /* RAND_bytes, drawn in batches */
	unsigned rnd_left;
};

/* 0, EINVAL or EIO (no randomness). The selected address starts with
 * consent: libnice's checks just succeeded on it. */
int tnd_icd_init(struct tnd_icd *s, const struct tnd_icd_conf *c, int64_t now);
/* Wipes the keys. */
void tnd_icd_clear(struct tnd_icd *s);
/* One STUN datagram from `from`; answers and checks go out through send. */
void tnd_icd_input(struct tnd_icd *s, uint8_t *buf, size_t len,
		   const struct sockaddr_storage *from, socklen_t from_len, int64_t now);
/* Every ~100 ms: consent checks, retries, moves. 0, or ETIMEDOUT when the
 * selected address has not answered for the timeout (stop sending). */
int tnd_icd_tick(struct tnd_icd *s, int64_t now);
/* Where media goes, and its length. */
const struct sockaddr_storage *tnd_icd_remote(const struct tnd_icd *s, socklen_t *len);
/* A restart's new local set (copied out), or the peer's new set. 0,
 * EINVAL, ENOSPC or EIO (no randomness). */
int tnd_icd_local_restart(struct tnd_icd *s, char *ufrag, size_t ufrag_size, char *pwd,
			  size_t pwd_size);
int tnd_icd_remote_restart(struct tnd_icd *s, const char *ufrag, const char *pwd);

/* ------------------------------------------------------------ dtls_end.c */

/* Single owner (the pc). From a live SSL after its handshake: 0, ENOTSUP
 * (not DTLS 1.2 with AES-GCM), ENOMEM or EPROTO. */
int tnd_dtls_end_derive(SSL *ssl, bool client, struct tnd_dtls_end **out);
/* The same from raw record keys (the fuzzer's fixed keys): AES-GCM with a
 * 16- or 32-byte key; the peer's (r) and our (w) key and 4-byte salt.
 * 0, EINVAL or ENOMEM. */
int tnd_dtls_end_from_keys(size_t key_len, const uint8_t *rkey, const uint8_t *rsalt,
			   const uint8_t *wkey, const uint8_t *wsalt, struct tnd_dtls_end **out);
void tnd_dtls_end_free(struct tnd_dtls_end *e);
/* 0 when the datagram holds an authentic close_notify or fatal alert of
 * epoch 1 from the peer, else EBADMSG. */
int tnd_dtls_end_input(const struct tnd_dtls_end *e, const uint8_t *buf, size_t len);
/* Our close_notify, once: its length in buf, or 0. */
size_t tnd_dtls_end_close_notify(struct tnd_dtls_end *e, uint8_t *buf, size_t cap);

/* ------------------------------------------------------------ the pc */

#define TND_PC_PENDING_DTLS 8   /* DTLS datagrams kept while a side is not ready */

/* DTLS datagrams held back during set-up only, never media */
struct tnd_pc_pending {
	uint8_t *buf[TND_PC_PENDING_DTLS];   /* owned (malloc) */
	size_t len[TND_PC_PENDING_DTLS];
	size_t n;
};

/* A deferred release, embedded in the object it releases. */
struct tnd_webrtc_release {
	struct tnd_defer d;
	struct tnd_obj *obj;          /* borrowed: the object it is part of */
};

struct tnd_pc {
	struct tnd_obj obj;            /* first: refcount */
	/* everything below: OWNER: worker */
	struct tnd_loop *loop;         /* borrowed: the worker this pc lives on */
	GMainContext *ctx;             /* borrowed: the worker's context */
	NiceAgent *agent;              /* owned (GObject ref) */
	guint stream;
	bool turn;                     /* a relay was configured: close_async on free */
	struct tnd_pc_handlers h;
	void *arg;                     /* borrowed: the owner's */

	enum tnd_pc_state state;
	int err;                       /* why FAILED */
	bool gathering, remote_set, ice_up, eoc_in, eoc_applied;
	enum tnd_dtls_role role;
	enum tnd_pc_dtls_state dtls_state;
	struct tnd_fp remote_fp;
	GSList *pending_cands;         /* owned NiceCandidate (libnice's), until ready;
					* newest first */
	unsigned n_remote_cands;       /* accepted, pending or applied */
	struct tnd_cand_prefix *cand_deny;   /* owned (malloc): conf.cand_deny parsed */
	size_t n_cand_deny;
	bool detached;                 /* tnd_pc_detach(): h and arg are gone */
	struct tnd_pc_pending dtls_in;   /* arrived before the remote's parameters */
	struct tnd_pc_pending dtls_out;  /* made before ICE had a pair */

	char *remote_ufrag, *remote_pwd;   /* owned: for consent once libnice is gone */
	int64_t consent_interval_us, consent_timeout_us;
	int rcvbuf;                    /* conf.rcvbuf, for the taken-over socket */
	bool ice_ready;                /* libnice's READY: checks over, pair nominated */
	bool gathered;                 /* end-of-candidates handed out */
	bool dtls_released;            /* tried to free the DTLS state (peer's first SRTP) */
	struct tnd_dtls_end *dtls_end; /* owned, once OpenSSL's state is gone */
	bool takeover_queued;
	struct tnd_defer takeover;     /* the hand-over from libnice, queued once */
	struct tnd_webrtc_release rel; /* the last reference's deferred put */
	struct tnd_pc_direct *direct;  /* owned, once the socket is ours (direct.c) */

	struct tnd_dtls *dtls;         /* owned */
	struct tnd_srtp *srtp;         /* owned, once DTLS is done */
	struct tnd_pc_stats st;

};

/* ice.c */
int tnd_pc_ice_create(struct tnd_pc *pc, const struct tnd_pc_conf *conf, bool controlling);
void tnd_pc_ice_destroy(struct tnd_pc *pc);
int tnd_pc_ice_set_remote(struct tnd_pc *pc, const char *ufrag, const char *pwd);
int tnd_pc_ice_send(struct tnd_pc *pc, const uint8_t *buf, size_t len);

/* direct.c: ICE after libnice. Once DTLS is done and libnice's checks are
 * over, the pc dups the selected pair's socket, lets the agent go and from
 * then on reads that socket from the worker's epoll set, answers the
 * peer's checks and keeps consent itself (RFC 7675). */
struct tnd_pc_direct;
/* Queues the hand-over when both conditions hold (safe inside libnice's
 * and OpenSSL's callbacks). */
void tnd_pc_direct_maybe(struct tnd_pc *pc);
void tnd_pc_direct_free(struct tnd_pc *pc);
int tnd_pc_direct_send(struct tnd_pc *pc, const uint8_t *buf, size_t len);

/* pc.c, called by ice.c */
void tnd_pc_input(struct tnd_pc *pc, const uint8_t *buf, size_t len);
/* DTLS, RTP and RTCP only (direct.c did STUN), classified by the caller
 * (tnd_demux_classify); with in_place media is decrypted in `buf` (the
 * worker's receive buffer), else in a copy there. */
void tnd_pc_input_nostun(struct tnd_pc *pc, enum tnd_demux kind, uint8_t *buf, size_t len,
			 bool in_place);
void tnd_pc_ice_up(struct tnd_pc *pc);
void tnd_pc_fail(struct tnd_pc *pc, int err);
/* The owner let go (tnd_pc_detach) or the state is final (FAILED,
 * CLOSED): library callbacks and deferred work return at once. */
bool tnd_pc_gone(const struct tnd_pc *pc);
/* Takes a reference across an owner's handler; the release is deferred to
 * the worker's deferred work (after the current batch, at packet priority:
 * review M6) when it is the last, so nothing is freed under a libnice,
 * OpenSSL or GLib callback still on the stack. */
void tnd_pc_hold(struct tnd_pc *pc);
void tnd_pc_unhold(struct tnd_pc *pc);
/* The same for any tnd_obj pinned to a worker (rtpsock.c), with the
 * release node embedded in it (no allocation). */
void tnd_webrtc_put_later(struct tnd_obj *obj, struct tnd_poller *p,
			  struct tnd_webrtc_release *rel);

#endif
