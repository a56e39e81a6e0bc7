/* Media: the worker pool and the per-call bridge between the browser's
 * WebRTC leg (struct tnd_pc) and the SIP leg's RTP socket (struct
 * tnd_rtpsock). Style guide section 1: the bridge's packet state lives on
 * one media worker for the call's life; the signalling thread talks to it
 * only through queued commands (tnd_loop_call) and gets events back the same
 * way, on the signalling loop.
 *
 * A bridge has two legs, A (the browser's side: a WebRTC pc, or plain RTP)
 * and B (the SIP side: plain RTP), and one stream per direction that owns
 * its output SSRC, sequence and timestamp (stream.h), so each leg sees one
 * continuous stream whatever changes on the other. Each direction's
 * handler is picked at negotiation: pass-through when both legs share the
 * codec (packets relayed without decoding, tnd_bridge_route), transcoding
 * otherwise (tnd_bridge_transcode: jitter buffer, decode, resample,
 * ptime conversion, encode; gateway/media/xcode.c). Each
 * leg's RTCP is terminated: we send our own SR/RR from what we sent and
 * received (rtcp_term.c). A leg silent for the configured time ends the
 * call (TND_BRIDGE_SIP_SILENT, TND_BRIDGE_WEBRTC_SILENT). */
#ifndef TND_GATEWAY_MEDIA_H
#define TND_GATEWAY_MEDIA_H

#include <stdbool.h>
#include <stdint.h>

#include "codecs/codecs.h"
#include "gateway/base/loop.h"

/* ------------------------------------------------------------ worker pool */

/* Single owner: tnd_media_pool_alloc / tnd_media_pool_free. */
struct tnd_media_pool;

/* Starts n worker threads (1..64). 0, EINVAL, ENOMEM or EAGAIN. */
int tnd_media_pool_alloc(struct tnd_media_pool **pp, unsigned n);
/* Stops and joins the workers; every bridge must be gone. */
void tnd_media_pool_free(struct tnd_media_pool *p);
/* Admission control: a worker whose measured CPU load is at or above
 * max_load_pct (1..100; 0: no limit) takes no new call. */
void tnd_media_pool_set_max_load(struct tnd_media_pool *p, unsigned max_load_pct);
/* The worker for a new call: the one with the fewest live bridges among
 * those under the load limit; NULL when every worker is past it (the call
 * is refused with 503, rtpengine's max-load). */
struct tnd_loop *tnd_media_pool_pick(struct tnd_media_pool *p);
/* A worker's CPU load over the last second, percent (0..100+). */
unsigned tnd_media_pool_load(const struct tnd_media_pool *p, unsigned i);

/* ------------------------------------------------------------ bridge */

struct tnd_bridge_conf {
	const char *const *ice_addrs;   /* host candidates (IP literals) */
	unsigned n_ice_addrs;
	const char *rtp_addr;           /* the SIP leg's local address */
	uint16_t port_min, port_max;
	const char *stun_server;        /* "IP:port" or NULL */
	const char *turn_server, *turn_user, *turn_pass;
	bool turn_only;                 /* relayed candidates only */
	bool ice_controlling;           /* we offered to the browser */
	/* remote ICE candidates in these prefixes ("10.0.0.0/8", "::1/128")
	 * are refused: the gateway never sends checks there (review M1) */
	const char *const *cand_deny;
	unsigned n_cand_deny;
	bool a_rtp;                     /* leg A is a plain RTP socket too */
	/* leg B is a WebRTC pc too (browser to browser, SIP over WebSocket):
	 * its events go to ready_b/candidate_b/state_b, its remote side is
	 * given with tnd_bridge_leg_remote/_candidate(side 1) */
	bool b_webrtc;
	bool b_ice_controlling;
	/* leg B's RTP socket is made only by tnd_bridge_swap_sip_leg (a call
	 * from SIP needs no port before it is answered: a ringing call holds
	 * the browser's ICE socket alone); `ready` then says rtp_port 0 */
	bool b_later;
	bool strict_source;             /* SIP-side RTP only from the SDP address */
	/* SDES-SRTP mandatory on the SIP leg: its socket takes and sends no
	 * plain RTP, even before tnd_bridge_rtp_srtp brings the keys */
	bool sip_srtp_required;
	unsigned timeout_ms;            /* a leg silent this long ends the call; 0 never */
	int rcvbuf;                     /* media sockets' SO_RCVBUF, bytes; 0 system's */
};

enum tnd_bridge_state {
	TND_BRIDGE_CONNECTED,   /* DTLS-SRTP up with the browser */
	TND_BRIDGE_FAILED,      /* ICE or DTLS failed; err says why */
	TND_BRIDGE_CLOSED,      /* the browser closed DTLS */
	TND_BRIDGE_SIP_SILENT,  /* no RTP or RTCP from the SIP leg for timeout_ms */
	TND_BRIDGE_WEBRTC_SILENT,   /* nor from the browser's */
};

/* Where a digit came from (the `dtmf` notification's source). */
enum tnd_bridge_dtmf_src {
	TND_BRIDGE_DTMF_RFC4733,    /* telephone-event packets */
	TND_BRIDGE_DTMF_INFO,       /* SIP INFO (set by gateway/call, never the bridge) */
	TND_BRIDGE_DTMF_INBAND,     /* tones detected in the SIP leg's audio */
};

/* Events, on the signalling loop. Borrowed strings. */
struct tnd_bridge_events {
	/* Once: the legs are up locally. `cands` are the candidates gathered
	 * so far (NULL-terminated); `complete` when gathering is finished.
	 * err != 0 means set-up failed and nothing else will come. */
	void (*ready)(void *arg, int err, const char *ufrag, const char *pwd,
		      const char *const *cands, bool complete, uint16_t rtp_port);
	/* Candidates gathered after ready; NULL once complete. */
	void (*candidate)(void *arg, const char *cand);
	void (*state)(void *arg, enum tnd_bridge_state state, int err);
	/* Leg B's, when it is WebRTC (conf.b_webrtc; then required). */
	void (*ready_b)(void *arg, int err, const char *ufrag, const char *pwd,
			const char *const *cands, bool complete);
	void (*candidate_b)(void *arg, const char *cand);
	void (*state_b)(void *arg, enum tnd_bridge_state state, int err);
	/* A digit ended on leg `side` (0 browser, 1 SIP): RFC 4733 from
	 * either leg, or in-band tones detected on leg B (dtmf_media.c).
	 * Once per digit, in order; NULL: not wanted. */
	void (*dtmf)(void *arg, unsigned side, char digit, unsigned duration_ms,
		     enum tnd_bridge_dtmf_src src);
};

/* Payload types of one codec on both legs. */
struct tnd_bridge_pt {
	uint8_t webrtc_pt;
	uint8_t sip_pt;
	uint32_t clock;      /* RTP clock rate, Hz */
};

/* Refcounted (tnd_obj). Made on the signalling thread; its legs are made on
 * `worker` and events come back on `signal`. */
struct tnd_bridge;

int tnd_bridge_alloc(struct tnd_bridge **brp, struct tnd_loop *worker, struct tnd_loop *signal,
		     const struct tnd_bridge_conf *conf, const struct tnd_bridge_events *ev,
		     void *arg);

/* The SSRC we send with toward the browser (random, fixed for the call),
 * for its SDP. */
uint32_t tnd_bridge_webrtc_ssrc(const struct tnd_bridge *br);
/* Local RTP port of leg A (0) or B (1); valid once `ready` was delivered. */
uint16_t tnd_bridge_port(const struct tnd_bridge *br, unsigned side);

/* Commands; queued to the worker in call order, any time after alloc. */
int tnd_bridge_webrtc_remote(struct tnd_bridge *br, const char *ufrag, const char *pwd,
			     const char *fingerprint, bool dtls_active);
int tnd_bridge_webrtc_candidate(struct tnd_bridge *br, const char *cand_or_null);
/* The same for either WebRTC leg (side 1 needs conf.b_webrtc). */
int tnd_bridge_leg_remote(struct tnd_bridge *br, unsigned side, const char *ufrag,
			  const char *pwd, const char *fingerprint, bool dtls_active);
int tnd_bridge_leg_candidate(struct tnd_bridge *br, unsigned side, const char *cand_or_null);
int tnd_bridge_sip_remote(struct tnd_bridge *br, const char *ip, uint16_t port,
			  uint16_t rtcp_port);
/* The same for either plain RTP leg (side 0 needs conf.a_rtp). */
int tnd_bridge_rtp_remote(struct tnd_bridge *br, unsigned side, const char *ip, uint16_t port,
			  uint16_t rtcp_port);
/* SDES-SRTP (RFC 4568) on a plain RTP leg (toward a PBX or trunk that
 * negotiated a=crypto): suite "AES_CM_128_HMAC_SHA1_80",
 * "AES_CM_128_HMAC_SHA1_32", "AEAD_AES_128_GCM" or "AEAD_AES_256_GCM", our
 * and the peer's inline key||salt of key_len bytes each (30, 30, 28, 44;
 * at most 48). Queue it before tnd_bridge_sip_remote so nothing leaves in
 * clear. The WebRTC leg is untouched: WebRTC <-> SDES-SRTP. */
int tnd_bridge_rtp_srtp(struct tnd_bridge *br, unsigned side, const char *suite,
			const uint8_t *tx, const uint8_t *rx, size_t key_len);
/* Replaces leg B's RTP socket under the live call (a transfer to a party
 * that needs a new port): leg A and both streams carry on, the stream
 * toward A renumbers the new source seamlessly. The new port comes back in
 * a second `ready` event (ufrag/pwd empty). */
int tnd_bridge_swap_sip_leg(struct tnd_bridge *br);
/* Replaces leg A's pc under the live call (the browser reloaded its page
 * and comes back with a new RTCPeerConnection): the SIP leg and both
 * streams carry on, the browser hears the stream continue. A second
 * `ready` event carries the new pc's ICE credentials and candidates, then
 * tnd_bridge_webrtc_remote() and _candidate() go to the new pc as at
 * set-up. */
int tnd_bridge_swap_webrtc_leg(struct tnd_bridge *br);
/* Hold (issue 11 item 4): with mute_a the media arriving on leg A (the
 * browser's) is dropped instead of relayed, so leg B's peer hears silence;
 * mute_b the same for leg B. A leg whose input is muted is expected to be
 * quiet: it is not timed out for silence ([media] timeout) meanwhile, and
 * its clock starts again when unmuted. The output streams keep their
 * numbering (stream.h), so SRTP toward the browser stays continuous. */
int tnd_bridge_hold(struct tnd_bridge *br, bool mute_a, bool mute_b);
/* The codecs relayed (audio and telephone-event); others are dropped. */
int tnd_bridge_route(struct tnd_bridge *br, const struct tnd_bridge_pt *pts, unsigned n);
/* One leg's codec in a transcoded call (issue 10 item 2). */
struct tnd_bridge_codec {
	const struct tnd_codec *codec;    /* borrowed table row, with ops */
	uint8_t pt;                       /* its payload type on this leg */
	unsigned ptime;                   /* ms per packet we send on this leg; 0: 20 */
	struct tnd_codec_params params;   /* encoder options (complexity, FEC, fmtp);
					   * rate and channels are the bridge's */
};

/* telephone-event carried across a transcoded call: its payload types and
 * clocks on the input and output leg (durations are rescaled). */
#define TND_BRIDGE_MAX_TE 2
struct tnd_bridge_te {
	uint8_t in_pt, out_pt;
	uint32_t in_clock, out_clock;
};

/* Transcodes between leg A's codec `a` and leg B's `b` (replacing any
 * route): each direction gets its own decoder, encoder, jitter buffer,
 * resampler and framer, all made here, on the calling thread; te[] (the
 * telephone-event pairs seen from leg A) are only checked: a transcoded
 * call's DTMF is the DTMF handler's too (tnd_bridge_dtmf with .transcoded,
 * sent after this). EINVAL (a row without ops, a ptime the codec cannot send, n_te
 * above TND_BRIDGE_MAX_TE), ENOMEM. */
int tnd_bridge_transcode(struct tnd_bridge *br, const struct tnd_bridge_codec *a,
			 const struct tnd_bridge_codec *b, const struct tnd_bridge_te *te,
			 unsigned n_te);

/* ------------------------------------------------------------ hold music */

/* Refcounted (tnd_obj): a WAV file ([media] hold_music) decoded once at
 * start-up, mixed down to mono and resampled to 8 and 16 kHz, read-only
 * from then on and shared by every call's player (moh.c). */
struct tnd_moh;

#define TND_MOH_MIN_MS 100          /* shorter files are refused */
#define TND_MOH_MAX_SECONDS 600     /* longer ones too (48 kB of memory a second) */

/* Reads and checks the file. 0, or ENOENT (cannot read it), EBADMSG (not a
 * WAV file, cut short), ENOTSUP (not 16-bit PCM, mono or stereo, 8-48 kHz),
 * EFBIG (longer than TND_MOH_MAX_SECONDS), ERANGE (shorter than
 * TND_MOH_MIN_MS) or ENOMEM, with why naming the problem. */
int tnd_moh_load(struct tnd_moh **mp, const char *path, char *why, size_t whylen);
/* The music's length, ms. */
unsigned tnd_moh_ms(const struct tnd_moh *m);

/* Hold music toward leg `side` (0 the browser, 1 the SIP peer), encoded in
 * that leg's codec `c` (row, payload type, ptime, encoder options; Opus is
 * encoded from the 16 kHz copy), from the file's start and looped. It plays
 * in place of the other leg's media whenever that is dropped by
 * tnd_bridge_hold or has sent nothing for TND_MOH_QUIET_MS, so media the
 * held party's peer does send is relayed instead. The stream toward the
 * leg keeps its SSRC and continues its sequence numbers and timestamps
 * across the music's start and end (SRTP's index stays continuous). A NULL
 * moh stops it. Encoder made here, on the calling thread; the player runs
 * on the worker's clock and allocates nothing. 0, EINVAL, ENOTSUP (a codec
 * without an encoder, or an encoder rate other than 8 or 16 kHz), ENOMEM. */
#define TND_MOH_QUIET_MS 240
int tnd_bridge_hold_music(struct tnd_bridge *br, unsigned side, struct tnd_moh *moh,
			  const struct tnd_bridge_codec *c);

/* ------------------------------------------------------------ stats */

/* What a transcoded direction did (zero for pass-through). */
struct tnd_bridge_dir_stats {
	uint64_t frames;                  /* decoded */
	uint64_t concealed;               /* frames made up for lost ones */
	uint64_t fec;                     /* of those, recovered by Opus FEC */
	uint64_t empty;                   /* ticks with nothing to play */
	uint64_t dec_errors, enc_errors;
	uint64_t jb_lost, jb_late;
	uint32_t jb_delay_ms;             /* jitter-buffer delay now */
};

/* One leg as the `stats` request shows it. */
struct tnd_bridge_leg_stats {
	char codec[16];                   /* what arrives on the leg: "opus", "PCMU"; "" */
	uint32_t clock;
	bool transcoded;                  /* its packets are decoded */
	uint64_t packets_in, packets_out;
	int32_t lost;                     /* RFC 3550 cumulative loss of what arrives */
	uint32_t jitter_ms;               /* interarrival jitter of what arrives */
	int32_t rtt_ms;                   /* from the peer's reports; -1 unknown */
	uint8_t remote_fraction_lost;     /* the peer's last report about ours, /256 */
	uint32_t remote_jitter_ms;
	uint64_t rtcp_in, rtcp_out;
	struct tnd_bridge_dir_stats xc;   /* the direction decoding this leg's audio */
};

/* `h` gets both legs' figures (A, B) once, on the signalling loop; st is
 * NULL when the bridge closed first. `arg` is a tnd_obj (or NULL) held
 * until h returns. 0, EINVAL or ENOMEM (then h is never called). */
typedef void (tnd_bridge_stats_h)(void *arg, const struct tnd_bridge_leg_stats st[2]);
int tnd_bridge_stats(struct tnd_bridge *br, tnd_bridge_stats_h *h, void *arg);

/* DTMF of a pass-through call (gateway/media/dtmf_media.c), set at
 * negotiation after tnd_bridge_route(). telephone-event is not listed in
 * tnd_bridge_route's table: its packets are read here, re-timestamped into
 * the target stream and their durations moved between the two event clocks
 * (48000 <-> 8000). A pt of -1 means the leg has no telephone-event. */
struct tnd_bridge_dtmf {
	int webrtc_pt;            /* telephone-event on leg A, or -1 */
	uint32_t webrtc_clock;
	int sip_pt;               /* on leg B, or -1 */
	uint32_t sip_clock;
	bool relay_to_sip;        /* leg A's events go on to leg B as RFC 4733 */
	bool relay_to_webrtc;     /* leg B's events go on to leg A as RFC 4733 */
	/* in-band on leg B (G.711 only in pass-through): detect tones in its
	 * audio, and allow tnd_bridge_dtmf_send(.., 1, .., true) */
	bool sip_inband;
	int sip_audio_pt;         /* leg B's audio payload type (0 PCMU, 8 PCMA...) */
	const char *sip_audio;    /* its encoding name: "PCMU" or "PCMA" */
	/* the call is transcoded (tnd_bridge_transcode): the transcoder numbers
	 * the output and hands the DTMF handler its 8 kHz PCM, so in-band works
	 * with any SIP codec decoded at 8 kHz and sip_audio is not needed */
	bool transcoded;
};
int tnd_bridge_dtmf(struct tnd_bridge *br, const struct tnd_bridge_dtmf *conf);
/* Sends digits (0-9 * # A-D, at most 64 queued per leg) toward leg `side`:
 * as RFC 4733 (needs that leg's telephone-event) or, with inband, as tones
 * that replace leg B's outgoing G.711 audio (side 1, sip_inband). Each
 * digit lasts duration_ms (40..2000) then gap_ms (0..2000) of nothing.
 * While the other leg's audio flows, each outgoing audio packet is replaced
 * by one event packet (or its tone), so seq and timestamps stay continuous;
 * while it is silent, a 20 ms timer sends the event packets in its place
 * (in-band tones need the audio). 0, EINVAL or ENOMEM. */
int tnd_bridge_dtmf_send(struct tnd_bridge *br, unsigned side, const char *digits,
			 unsigned duration_ms, unsigned gap_ms, bool inband);
/* How the bridge carries media, for /metrics: pass-through (the legs share
 * the codec) or transcoded (decoded and encoded again). */
enum tnd_media_mode {
	TND_MEDIA_PASSTHROUGH,
	TND_MEDIA_TRANSCODED,
};
/* The mode the bridge's handler runs in now. Any thread. */
enum tnd_media_mode tnd_bridge_mode(const struct tnd_bridge *br);
/* Workers in the pool, and live bridges on worker i. Any thread. */
unsigned tnd_media_pool_size(const struct tnd_media_pool *p);
long tnd_media_pool_bridges(const struct tnd_media_pool *p, unsigned i);
/* Stops media and events; the legs are released on the worker. The caller
 * still drops its reference. */
void tnd_bridge_close(struct tnd_bridge *br);

/* One leg's figures for CDRs and admin requests (bridge_stats.c). */
struct tnd_bridge_leg_fig {
	uint64_t packets_in, packets_out;
	uint64_t bytes_in;
	int64_t lost;          /* expected less received (RFC 3550 A.3) */
	double jitter_ms;      /* interarrival jitter of what the leg sends us (A.8) */
	int rtt_ms;            /* from the peer's receiver reports; -1 unknown */
};
struct tnd_bridge_figs {
	bool valid;            /* false: the bridge had closed already */
	struct tnd_bridge_leg_fig leg[2];   /* A (browser), B (SIP) */
};
typedef void (tnd_bridge_figs_h)(void *arg, const struct tnd_bridge_figs *st);
/* Asks the worker for the bridge's figures: h(arg, st) runs once on the
 * signalling loop, also after tnd_bridge_close (commands run in order, so
 * a query made before the close sees the call's last figures). arg is a
 * tnd_obj, held until then. 0, EINVAL or ENOMEM (h is then not called). */
int tnd_bridge_stats_query(struct tnd_bridge *br, tnd_bridge_figs_h *h, void *arg);

/* Live objects, for the gateway's leak counters: bridges, and of those
 * whose legs still hold sockets. Any thread. */
struct tnd_media_counts {
	long bridges;
	long open_legs;     /* bridges whose pc and socket are not yet released */
	long ports;         /* UDP ports held: RTP + RTCP of plain RTP legs, ICE
			     * host sockets of WebRTC legs */
	long dropped;       /* packets dropped as garbage or unusable by closed calls'
			     * legs (bad STUN/DTLS/RTP/RTCP, SRTP failures, unknown
			     * payload types) */
};
void tnd_media_counts(struct tnd_media_counts *c);

/* ------------------------------------------------------------ test peer */

/* The built-in test destinations (testpeer.c): the far end of a call's SIP
 * leg, answering on loopback without SIP. */
enum tnd_testpeer_kind {
	TND_TESTPEER_ECHO,   /* what comes in goes back 200 ms later, renumbered */
	TND_TESTPEER_TONE,   /* 1 kHz for 5 s, then ring-back cadence */
	TND_TESTPEER_DTMF,   /* the digits it gets read back, in-band and RFC 4733 */
};

/* Refcounted (tnd_obj). Made on the signalling thread; runs on `worker`. */
struct tnd_testpeer;

/* Binds a UDP socket on addr (any port, written to *portp) that sends to
 * addr:peer_port (the bridge's SIP-leg socket). TONE encodes with the
 * codec named (rtpmap name and clock, e.g. "PCMU" 8000) as payload type pt;
 * ECHO ignores codec. 0, EINVAL, ENOTSUP (codec not built), ENOMEM or a
 * socket errno. Call tnd_testpeer_close before the last put. */
int tnd_testpeer_alloc(struct tnd_testpeer **tpp, struct tnd_loop *worker,
		       enum tnd_testpeer_kind kind, const char *addr, uint16_t peer_port,
		       const char *codec, uint32_t clock, uint8_t pt, uint16_t *portp);
/* Signalling thread, once, after alloc: the telephone-event payload type
 * and clock the SIP leg's answer gives (DTMF reads back the events it gets
 * with them; without, it sends silence; the others ignore them). 0, EINVAL
 * (a second call, a pt above 127, a clock outside 1000-192000) or ENOMEM. */
int tnd_testpeer_set_te(struct tnd_testpeer *tp, uint8_t te_pt, uint32_t te_clock);
/* Stops it on its worker (queued; any thread). */
void tnd_testpeer_close(struct tnd_testpeer *tp);

#endif
