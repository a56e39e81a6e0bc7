/* The one SDP model of the gateway: parse, write, and the offer/answer
 * helpers the call layer uses on both legs.
 *
 * Syntax is RFC 8866; the WebRTC leg speaks JSEP (RFC 8829) as Chromium and
 * Firefox write it: BUNDLE (RFC 8843), rtcp-mux (RFC 5761), ICE (RFC 8839),
 * DTLS-SRTP (RFC 5763, 8842). The SIP leg speaks RFC 3264 with plain RTP or
 * SDES (RFC 4568). Everything here is a pure function of its arguments (no
 * globals, no clock, no randomness), so the fuzzer links it with base alone,
 * and any thread may use it; the gateway uses it on the signalling thread.
 *
 * Memory: a struct tnd_sdp has one owner (tnd_sdp_parse / tnd_sdp_alloc /
 * the builders, released with tnd_sdp_free). Every string field points into
 * storage owned by its tnd_sdp: it is borrowed by whoever reads it and dies
 * with the tnd_sdp. To set a string field, use tnd_sdp_set(). Lists are
 * fixed arrays with counts; see TND_SDP_MAX_* for what happens past a cap. */
#ifndef TND_SDP_SDP_H
#define TND_SDP_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Caps. Past TND_SDP_MAX_MEDIA the parse fails with ENOTSUP, because an
 * answer must answer every m= line. Every other list drops the items past
 * its cap and counts them in n_dropped of the section: losing a candidate,
 * an extmap or an rtcp-fb value only narrows what we may answer. Codecs have
 * no practical cap: RTP payload types are 0-127 and may not repeat. */
#define TND_SDP_MAX_LEN     262144   /* bytes of text; longer is ENOTSUP */
#define TND_SDP_MAX_MEDIA   16
#define TND_SDP_MAX_CODECS  128
#define TND_SDP_MAX_FMTS    16       /* formats of a non-RTP m= line */
#define TND_SDP_MAX_FB      8        /* rtcp-fb values per codec */
#define TND_SDP_MAX_CANDS   32
#define TND_SDP_MAX_EXTMAPS 32
#define TND_SDP_MAX_SSRCS   16
#define TND_SDP_MAX_CRYPTO  8
#define TND_SDP_MAX_ATTRS   32       /* unknown a= lines per section */
#define TND_SDP_MAX_BW      4

enum tnd_sdp_mtype {
	TND_SDP_MEDIA_AUDIO,
	TND_SDP_MEDIA_VIDEO,
	TND_SDP_MEDIA_APPLICATION,
	TND_SDP_MEDIA_OTHER,         /* see type_name */
};

/* Zero is sendrecv, the RFC 3264 default when no direction is written. */
enum tnd_sdp_dir {
	TND_SDP_SENDRECV,
	TND_SDP_SENDONLY,
	TND_SDP_RECVONLY,
	TND_SDP_INACTIVE,
};

/* RFC 4145 a=setup; NONE when absent. */
enum tnd_sdp_setup {
	TND_SDP_SETUP_NONE,
	TND_SDP_SETUP_ACTPASS,
	TND_SDP_SETUP_ACTIVE,
	TND_SDP_SETUP_PASSIVE,
	TND_SDP_SETUP_HOLDCONN,
};

/* c= (nettype is always IN). addr NULL when absent; it keeps a multicast
 * "/ttl" suffix as written. */
struct tnd_sdp_conn {
	const char *addrtype;          /* "IP4" or "IP6" */
	const char *addr;
};

struct tnd_sdp_ice {
	const char *ufrag;             /* NULL when absent */
	const char *pwd;
	const char *options;           /* a=ice-options value, e.g. "trickle" */
};

/* a=fingerprint (RFC 8122): alg is a hash name such as "sha-256", value the
 * colon-separated hex digest as written. The parser checks the hex and, for
 * hashes it knows, the length. */
struct tnd_sdp_fingerprint {
	const char *alg;               /* NULL when absent */
	const char *value;
};

struct tnd_sdp_codec {
	uint8_t pt;
	uint8_t channels;              /* 1 when the rtpmap gives none */
	uint32_t clock;                /* 0 when unknown */
	const char *name;              /* NULL for a PT with no rtpmap we know */
	const char *fmtp;              /* parameters after "a=fmtp:<pt> ", or NULL */
	const char *fb[TND_SDP_MAX_FB];   /* rtcp-fb values: "nack pli", "transport-cc" */
	unsigned n_fb;
};

/* a=extmap (RFC 8285) */
struct tnd_sdp_extmap {
	uint16_t id;                   /* 1-4351 */
	bool has_dir;
	enum tnd_sdp_dir dir;
	const char *uri;
	const char *attrs;             /* extension attributes, or NULL */
};

/* a=ssrc (RFC 5576) lines grouped by SSRC. Attributes other than cname and
 * msid stay in the section's attrs[] as written. */
struct tnd_sdp_ssrc {
	uint32_t ssrc;
	const char *cname;             /* NULL when absent */
	const char *msid;
};

struct tnd_sdp_media {
	enum tnd_sdp_mtype type;
	const char *type_name;         /* as written: "audio", "message", ... */
	uint16_t port;                 /* 0: rejected, unless bundle_only */
	uint16_t n_ports;              /* the "/n" of m=, 0 when absent */
	const char *proto;             /* "UDP/TLS/RTP/SAVPF", "RTP/AVP", ... */
	bool rtp;                      /* proto carries RTP: formats are codecs[] */
	struct tnd_sdp_codec codecs[TND_SDP_MAX_CODECS];   /* RTP: m= order */
	unsigned n_codecs;
	const char *fmts[TND_SDP_MAX_FMTS];    /* non-RTP: "webrtc-datachannel" */
	unsigned n_fmts;
	const char *mid;               /* NULL when absent */
	struct tnd_sdp_conn conn;      /* this section's c=; see tnd_sdp_media_conn() */
	const char *bw[TND_SDP_MAX_BW];        /* b= values: "AS:64", "TIAS:64000" */
	unsigned n_bw;
	enum tnd_sdp_dir dir;          /* a session-level direction is copied down */
	bool rtcp_mux;
	bool rtcp_rsize;
	bool bundle_only;
	uint16_t rtcp_port;            /* a=rtcp, 0 when absent */
	struct tnd_sdp_conn rtcp_conn; /* its address, addr NULL when absent */
	/* ICE, fingerprint and setup: when the section has none, the parser
	 * copies the session's here (RFC 8839 5.4, RFC 8122 5) */
	struct tnd_sdp_ice ice;
	struct tnd_sdp_fingerprint fp;
	enum tnd_sdp_setup setup;
	const char *cands[TND_SDP_MAX_CANDS];  /* "candidate:..." without "a=" */
	unsigned n_cands;
	bool end_of_cands;
	struct tnd_sdp_extmap extmaps[TND_SDP_MAX_EXTMAPS];
	unsigned n_extmaps;
	struct tnd_sdp_ssrc ssrcs[TND_SDP_MAX_SSRCS];
	unsigned n_ssrcs;
	const char *msid;              /* a=msid value: "<stream> <track>" */
	unsigned ptime, maxptime;      /* ms, 0 when absent */
	const char *crypto[TND_SDP_MAX_CRYPTO];  /* SDES: "1 AES_CM_128_HMAC_SHA1_80 inline:..." */
	unsigned n_crypto;
	/* a= lines we do not model, without "a=", in their order; written back
	 * after the ones we model */
	const char *attrs[TND_SDP_MAX_ATTRS];
	unsigned n_attrs;
	unsigned n_dropped;            /* items past a cap (see TND_SDP_MAX_*) */
	unsigned line;                 /* line of the m= in parsed text, else 0 */
};

struct tnd_sdp_chunk;

/* Single owner: tnd_sdp_parse, tnd_sdp_alloc, tnd_sdp_dup or a builder
 * below makes it; tnd_sdp_free releases it with all its strings. */
struct tnd_sdp {
	const char *user;              /* o= */
	const char *sess_id;           /* o= as written (may exceed 64 bits) */
	uint64_t sess_version;
	struct tnd_sdp_conn origin;    /* o= address */
	const char *name;              /* s=; "-" when absent */
	struct tnd_sdp_conn conn;      /* session c=, addr NULL when absent */
	const char *bw[TND_SDP_MAX_BW];
	unsigned n_bw;
	uint64_t t_start, t_stop;      /* t= */
	struct tnd_sdp_ice ice;
	bool ice_lite;
	struct tnd_sdp_fingerprint fp;
	enum tnd_sdp_setup setup;
	bool bundle;                   /* a=group:BUNDLE present (first one only;
					* a second group stays in attrs[]) */
	const char *bundle_mids[TND_SDP_MAX_MEDIA];
	unsigned n_bundle;
	const char *msid_semantic;     /* value after "a=msid-semantic:", e.g. "WMS *" */
	const char *attrs[TND_SDP_MAX_ATTRS];
	unsigned n_attrs;
	unsigned n_dropped;
	struct tnd_sdp_media *media[TND_SDP_MAX_MEDIA];  /* owned, m= order */
	unsigned n_media;
	struct tnd_sdp_chunk *chunks;  /* owned: storage of every string */
};

/* ------------------------------------------------------------ model */

/* An empty session: v=0, o=- 0 0 IN IP4 0.0.0.0, s=-, t=0 0. 0 or ENOMEM. */
int tnd_sdp_alloc(struct tnd_sdp **sdpp);
void tnd_sdp_free(struct tnd_sdp *sdp);
/* Deep copy. 0, EINVAL or ENOMEM. */
int tnd_sdp_dup(struct tnd_sdp **dstp, const struct tnd_sdp *src);

/* Copies `s` (NULL clears) into sdp's storage and points *slot at it;
 * `slot` must be a string field of sdp or of one of its media. 0, EINVAL
 * (a CR, LF or NUL would break the written text) or ENOMEM. */
int tnd_sdp_set(struct tnd_sdp *sdp, const char **slot, const char *s);

/* Appends an m= section with no formats. 0, EINVAL, ENOTSUP (full) or
 * ENOMEM; *mp is borrowed from sdp. */
int tnd_sdp_media_add(struct tnd_sdp *sdp, struct tnd_sdp_media **mp, const char *type,
		      uint16_t port, const char *proto);

/* Appends a codec (pt 0-127, not already listed) to an RTP section; name,
 * clock and channels as in a=rtpmap (channels 0 means 1), fmtp may be NULL.
 * 0, EINVAL, EEXIST or ENOMEM; *cp (may be NULL) is borrowed from sdp. */
int tnd_sdp_media_add_codec(struct tnd_sdp *sdp, struct tnd_sdp_media *m, uint8_t pt,
			    const char *name, uint32_t clock, uint8_t channels, const char *fmtp,
			    struct tnd_sdp_codec **cp);

/* First codec named `name` (case-insensitive) at `clock` (0: any). */
const struct tnd_sdp_codec *tnd_sdp_media_find_codec(const struct tnd_sdp_media *m,
						     const char *name, uint32_t clock);
const struct tnd_sdp_codec *tnd_sdp_media_codec_by_pt(const struct tnd_sdp_media *m,
						      uint8_t pt);
const struct tnd_sdp_media *tnd_sdp_find_mid(const struct tnd_sdp *sdp, const char *mid);
/* The c= that applies to m: its own, else the session's; NULL if neither. */
const struct tnd_sdp_conn *tnd_sdp_media_conn(const struct tnd_sdp *sdp,
					      const struct tnd_sdp_media *m);
/* Whether c can carry a new call's media: a unicast IP literal of its
 * addrtype that names a host. ENOTSUP with msg saying why (multicast, a
 * host name, 0.0.0.0, no address at all). */
int tnd_sdp_conn_check(const struct tnd_sdp_conn *c, char *msg, size_t msglen);
/* The value of `key` (case-insensitive) in an a=fmtp parameter list
 * ("minptime=10;useinbandfec=1", RFC 4855 3), spaces around it removed,
 * into val (NUL-terminated, cut to cap - 1). false when fmtp is NULL, the
 * key is absent or cap is 0. */
bool tnd_sdp_fmtp_get(const char *fmtp, const char *key, char *val, size_t cap);
/* Whether a space-separated option list ("trickle renomination") holds opt. */
bool tnd_sdp_has_option(const char *options, const char *opt);
/* Digest bytes of a fingerprint. 0, EINVAL, EBADMSG or ENOSPC. */
int tnd_sdp_fingerprint_decode(const struct tnd_sdp_fingerprint *fp, uint8_t *out,
			       size_t cap, size_t *lenp);
/* The direction the other side has when this side has `dir` (RFC 3264 6.1). */
enum tnd_sdp_dir tnd_sdp_dir_reverse(enum tnd_sdp_dir dir);
const char *tnd_sdp_dir_name(enum tnd_sdp_dir dir);

/* ------------------------------------------------------- text in, out */

/* Parses `len` bytes of SDP (CRLF or LF line ends, no NUL needed; nothing
 * past len is read). On bad input returns EBADMSG and writes a message
 * starting "line N: " to err; ENOTSUP for input past TND_SDP_MAX_LEN or
 * TND_SDP_MAX_MEDIA. Unknown a= lines are kept in attrs[] of their section.
 * 0, EINVAL, EBADMSG, ENOTSUP or ENOMEM. */
int tnd_sdp_parse(struct tnd_sdp **sdpp, const char *text, size_t len, char *err,
		  size_t errlen);

/* Writes CRLF text in RFC 8866 order and a NUL after it; *lenp (may be NULL)
 * gets the length without the NUL. 0, EINVAL or ENOSPC (buf too small; then
 * *lenp, if given, is the length needed). */
int tnd_sdp_write(const struct tnd_sdp *sdp, char *buf, size_t cap, size_t *lenp);
/* The same into a new NUL-terminated buffer the caller frees with free(). */
int tnd_sdp_write_alloc(const struct tnd_sdp *sdp, char **textp, size_t *lenp);

/* ------------------------------------------------------ offer/answer */

/* A codec the gateway can use. For an offer, pt 96-127 picks a dynamic
 * type; any other value lets the builder pick: codecs with a static type
 * (RFC 3551: PCMU 0, PCMA 8, G722 9, ...) always get it, opus gets 111,
 * telephone-event/8000 101, telephone-event/48000 110, others the first
 * free type from 96. fmtp NULL: answers copy the offer's; offers write none
 * (telephone-event: "0-16"). */
struct tnd_sdp_codec_pref {
	const char *name;              /* "opus", "PCMU", "telephone-event" */
	uint32_t clock;
	uint8_t channels;              /* 0: any when answering, 1 when offering */
	uint8_t pt;
	const char *fmtp;
};

/* The gateway's side of one leg. Every pointer is borrowed for the call.
 * Strings must hold no CR or LF (EINVAL). */
struct tnd_sdp_local {
	const char *user;              /* o= user; NULL: "-" */
	uint64_t sess_id;              /* o=; keep per leg, bump sess_version on */
	uint64_t sess_version;         /* every new offer (RFC 3264 8) */
	const char *addrtype;          /* NULL: "IP4" */
	const char *addr;              /* c= and o=; NULL: 0.0.0.0 */
	uint16_t port;                 /* m=; WebRTC with no candidate yet: 9 */

	/* preference order; a telephone-event entry means RFC 4733 at its clock
	 * and is answered only at the chosen codec's clock */
	const struct tnd_sdp_codec_pref *codecs;
	size_t n_codecs;
	enum tnd_sdp_dir dir;          /* what we want: sendrecv, sendonly to hold */
	unsigned ptime;                /* a=ptime, 0 omits */
	/* answers: take the offerer's first codec that `codecs` lists (a
	 * transcoding gateway serves any of them: the offerer's preference
	 * decides) instead of our first that the offer lists */
	bool offer_order;
	/* SIP answers: keep the offer's a=ptime when it has one */
	bool keep_ptime;
	bool rtcp_rsize;               /* we take reduced-size RTCP (RFC 5506) */
	/* rtcp-fb values we implement: offers put them on every codec but
	 * telephone-event, answers keep the offered ones listed here */
	const char *const *fb;
	size_t n_fb;
	/* header extension URIs we implement: offers number them from 1,
	 * answers keep the offered ones listed here with the offer's ids */
	const char *const *extmaps;
	size_t n_extmaps;

	/* WebRTC legs */
	const char *ice_ufrag;
	const char *ice_pwd;
	bool ice_lite;
	bool trickle;                  /* a=ice-options:trickle */
	const char *const *cands;      /* "candidate:..." (no "a="), on the first
					* accepted m= line only: BUNDLE shares it */
	size_t n_cands;
	bool cands_done;               /* gathering over: a=end-of-candidates */
	const char *fingerprint;       /* "sha-256 AB:CD:..." */
	uint32_t ssrc;                 /* our send stream, 0 writes no a=ssrc */
	const char *cname;
	const char *msid_stream;       /* a=msid:<stream> <track> when both set */
	const char *msid_track;

	/* SIP legs */
	uint16_t rtcp_port;            /* a=rtcp when not 0 */
	bool rtcp_mux;                 /* offer rtcp-mux / accept it when offered */
	/* SDES lines "<tag> <suite> inline:<key>": an offer lists them all under
	 * RTP/SAVP; an answer takes the first offered line whose suite we have
	 * and answers with our line under the offer's tag */
	const char *const *crypto;
	size_t n_crypto;
	/* SDES policy ([media] sip_srtp, or a trunk's): crypto_avp offers the
	 * lines under RTP/AVP ("optional", best effort) instead of RTP/SAVP;
	 * crypto_required refuses to answer an offer without a crypto line we
	 * take ("mandatory"). With crypto and neither, an RTP/AVP offer that
	 * carries a=crypto is answered with SDES when a line fits, else plain. */
	bool crypto_avp;
	bool crypto_required;
};

/* Answers a browser's offer: the first usable audio m= line (ICE, DTLS
 * fingerprint, (UDP|TCP)/TLS/RTP/SAVPF, a codec in local->codecs) is
 * accepted with one codec (the first of ours the offer has, at the offer's
 * PT) plus telephone-event at its clock; every other m= line is answered
 * rejected (port 0) in place with its mid (RFC 3264 6, RFC 8843 7.3.3). The
 * BUNDLE group holds the accepted mid when the offer bundled it. Our DTLS
 * role: passive when the offer says active, else active (RFC 5763 5).
 * Needs local ICE credentials and fingerprint (EINVAL). ENOTSUP with a
 * message in err (the caller answers 488) when no m= line is usable. */
int tnd_sdp_answer_webrtc(struct tnd_sdp **answerp, const struct tnd_sdp *offer,
			  const struct tnd_sdp_local *local, char *err, size_t errlen);

/* A browser-style offer for a call from SIP: one audio m= line, mid "0",
 * BUNDLE "0", UDP/TLS/RTP/SAVPF, rtcp-mux, setup:actpass, ICE and
 * candidates, our codecs, a=msid-semantic and a=ssrc for local->ssrc.
 * 0, EINVAL or ENOMEM. */
int tnd_sdp_offer_webrtc(struct tnd_sdp **offerp, const struct tnd_sdp_local *local);

/* A plain SIP offer: c=, one audio m= line on local->port, RTP/AVP (RTP/SAVP
 * with local->crypto), our codecs with rtpmap and fmtp, ptime, direction and
 * a=rtcp if set. 0, EINVAL or ENOMEM. */
int tnd_sdp_offer_sip(struct tnd_sdp **offerp, const struct tnd_sdp_local *local);

/* Answers a SIP peer's offer: the first audio m= line in RTP/AVP(F), or
 * RTP/SAVP(F) with a crypto suite we have, that offers one of our codecs is
 * accepted with the first of ours it offers (at its PT) and telephone-event
 * at that clock; the rest are rejected in place. ENOTSUP with a message in
 * err when nothing is usable. */
int tnd_sdp_answer_sip(struct tnd_sdp **answerp, const struct tnd_sdp *offer,
		       const struct tnd_sdp_local *local, char *err, size_t errlen);

/* What an offer and its answer agreed on, for either leg and either side.
 * Every pointer is borrowed from the offer or the answer. */
struct tnd_sdp_neg {
	unsigned index;                        /* the audio m= line, both SDPs */
	const struct tnd_sdp_media *offer_m;
	const struct tnd_sdp_media *answer_m;
	const struct tnd_sdp_codec *codec;     /* answer's first codec, not DTMF or CN */
	const struct tnd_sdp_codec *dtmf;      /* telephone-event at codec's clock, or NULL */
	enum tnd_sdp_dir dir;                  /* the answerer's direction */
	bool rtcp_mux;                         /* both sides asked for it */
	bool answerer_dtls_client;             /* answer said setup:active */
	const char *offer_crypto;              /* SDES lines under the answer's tag, */
	const char *answer_crypto;             /* or NULL */
};

/* Reads the agreement from an offer and its answer: the first audio m= line
 * accepted in the answer. ENOTSUP when the answer accepts no audio, EPROTO
 * when it does not fit the offer (m= count, codec not offered, setup or
 * crypto tag missing), each with a message in err. */
int tnd_sdp_negotiated(struct tnd_sdp_neg *neg, const struct tnd_sdp *offer,
		       const struct tnd_sdp *answer, char *err, size_t errlen);

/* ------------------------------------------------------ SDES crypto */

/* RFC 4568 6.2 and RFC 7714 12 suites we implement; NONE for any other. */
enum tnd_sdp_crypto_suite {
	TND_SDP_CRYPTO_NONE,
	TND_SDP_CRYPTO_AES_CM_128_HMAC_SHA1_80,
	TND_SDP_CRYPTO_AES_CM_128_HMAC_SHA1_32,
	TND_SDP_CRYPTO_AEAD_AES_128_GCM,
	TND_SDP_CRYPTO_AEAD_AES_256_GCM,
	TND_SDP_CRYPTO_N
};

#define TND_SDP_CRYPTO_MAX_KEY 48      /* key||salt bytes; AES-256-GCM uses 44 */
#define TND_SDP_CRYPTO_LINE_MAX 128    /* a line tnd_sdp_crypto_write makes */

/* One a=crypto value, decoded. Plain data in the caller's memory: wipe key
 * when done with it. */
struct tnd_sdp_crypto {
	unsigned tag;                          /* 1-9 digits */
	enum tnd_sdp_crypto_suite suite;
	uint8_t key[TND_SDP_CRYPTO_MAX_KEY];   /* key || salt of the first key */
	size_t key_len;                        /* the suite's length when known */
	uint64_t lifetime;                     /* packets; 0 when absent */
	uint32_t mki;                          /* MKI value when mki_len */
	unsigned mki_len;                      /* bytes on the wire; 0: no MKI */
	unsigned wsh;                          /* WSH= window hint; 0 when absent */
};

/* Reads the value of an a=crypto line (no "a=crypto:"), `len` bytes, no
 * NUL needed. 0: usable, *c filled; ENOTSUP: valid but not for us (suite
 * we lack, several keys, a KDR, UNENCRYPTED_* / UNAUTHENTICATED_SRTP or an
 * unknown session parameter), *c still filled; EBADMSG: bad syntax, a key
 * of the wrong length for its suite or not canonical base64 (*c
 * untouched); EINVAL for NULL. An MKI is reported, not refused. */
int tnd_sdp_crypto_parse(struct tnd_sdp_crypto *c, const char *line, size_t len);
/* Writes "<tag> <suite> inline:<base64>" into buf. 0, EINVAL (unknown
 * suite, key_len not the suite's) or ENOSPC. */
int tnd_sdp_crypto_write(char *buf, size_t cap, unsigned tag, enum tnd_sdp_crypto_suite suite,
			 const uint8_t *key, size_t key_len);
/* "AES_CM_128_HMAC_SHA1_80" ...; "" for NONE. */
const char *tnd_sdp_crypto_suite_name(enum tnd_sdp_crypto_suite s);
/* Exact (case-sensitive, RFC 4568 9.2) match of n bytes; NONE if unknown. */
enum tnd_sdp_crypto_suite tnd_sdp_crypto_suite_by_name(const char *name, size_t n);
/* key||salt bytes of the suite; 0 for NONE. */
size_t tnd_sdp_crypto_key_len(enum tnd_sdp_crypto_suite s);

#endif
