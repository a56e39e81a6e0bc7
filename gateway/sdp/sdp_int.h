/* Private to gateway/sdp: string storage, the static payload type table
 * and checks shared by the parser and the builders. Symbols keep the
 * tnd_sdp_ prefix because they cross files of the module (R2). */
#ifndef TND_SDP_SDP_INT_H
#define TND_SDP_SDP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/sdp/sdp.h"

/* Strings live in chunks that never move, so pointers into them stay valid
 * while the SDP grows; the parser sizes the first chunk to hold the whole
 * input so a parse usually allocates once for its strings. */
struct tnd_sdp_chunk {
	struct tnd_sdp_chunk *next;
	size_t used;
	size_t cap;
	char data[];
};

/* Copies n bytes and a NUL into sdp's storage; NULL on ENOMEM. */
const char *tnd_sdp_strndup(struct tnd_sdp *sdp, const char *s, size_t n);
/* tnd_sdp_set with a printf format. 0 or ENOMEM. */
__attribute__((format(printf, 3, 4)))
int tnd_sdp_setf(struct tnd_sdp *sdp, const char **slot, const char *fmt, ...);
/* Makes sure the next `n` bytes of strings need no new allocation. */
int tnd_sdp_reserve(struct tnd_sdp *sdp, size_t n);

/* An empty media section in sdp->media[]: 0, ENOTSUP (full) or ENOMEM. */
int tnd_sdp_media_new(struct tnd_sdp *sdp, struct tnd_sdp_media **mp);
enum tnd_sdp_mtype tnd_sdp_mtype_of(const char *s, size_t n);
/* Whether proto carries RTP (RTP/AVP, UDP/TLS/RTP/SAVPF, ...). */
bool tnd_sdp_proto_is_rtp(const char *s, size_t n);

/* RFC 3551 static payload types; NULL for unassigned ones. */
struct tnd_sdp_static_pt {
	const char *name;
	uint32_t clock;
	uint8_t channels;
};
const struct tnd_sdp_static_pt *tnd_sdp_static_pt(unsigned pt);
/* The static type of name/clock/channels, or -1. */
int tnd_sdp_static_pt_of(const char *name, uint32_t clock, uint8_t channels);

bool tnd_sdp_is_dtmf(const struct tnd_sdp_codec *c);
/* telephone-event, CN, red, rtx, ulpfec, flexfec: not a codec to pick. */
bool tnd_sdp_is_aux(const struct tnd_sdp_codec *c);

/* Checks a fingerprint digest "AB:CD:..." for hash `alg`; returns a reason
 * or NULL when it is good. */
const char *tnd_sdp_check_fingerprint(const char *alg, size_t alg_len, const char *hex,
				      size_t hex_len);
/* ICE ufrag (min 4) or pwd (min 22): 1*256 ice-char (RFC 8839 5.4). */
bool tnd_sdp_ice_chars_ok(const char *s, size_t n, size_t min);
/* A candidate attribute value "candidate:..." with the fields RFC 8839 5.1
 * requires; returns a reason or NULL. */
const char *tnd_sdp_check_candidate(const char *s, size_t n);
/* An SDES crypto value "<tag> <suite> <key-params> ..."; a reason or NULL. */
const char *tnd_sdp_check_crypto(const char *s, size_t n);

/* Case-insensitive compare of a counted string with a C string. */
bool tnd_sdp_eq(const char *s, size_t n, const char *lit);

/* ------------------------------------- offer/answer, shared by the legs */

/* What an answer takes from one offered audio section. */
struct tnd_sdp_pick {
	const struct tnd_sdp_codec *codec;          /* borrowed from the offer */
	const struct tnd_sdp_codec_pref *pref;      /* borrowed from the local */
	const struct tnd_sdp_codec *dtmf;           /* or NULL */
	const struct tnd_sdp_codec_pref *dtmf_pref;
};

__attribute__((format(printf, 3, 4)))
void tnd_sdp_neg_fail(char *err, size_t errlen, const char *fmt, ...);
/* Checks the local parameters a builder uses; EINVAL with a message. */
int tnd_sdp_neg_check_local(const struct tnd_sdp_local *l, bool webrtc, char *err,
			    size_t errlen);
/* Whether an offered audio section can be taken: 0 and the choice in
 * pick, or ENOTSUP with the reason in why. */
typedef int (tnd_sdp_usable_h)(const struct tnd_sdp_media *om, unsigned i,
			       const struct tnd_sdp_local *l, void *pick, char *why, size_t whylen);
/* The first audio section of offer that usable() takes: 0 with its index in
 * *take, or ENOTSUP with the first audio section's reason (RFC 3264 6: we
 * answer one audio stream and reject the rest in place). */
int tnd_sdp_neg_find_audio(const struct tnd_sdp *offer, const struct tnd_sdp_local *l,
			   tnd_sdp_usable_h *usable, void *pick, unsigned *take, char *err,
			   size_t errlen);
/* A new session carrying l's o= line. */
int tnd_sdp_neg_session(struct tnd_sdp **sdpp, const struct tnd_sdp_local *l);
/* Fills the answer's section for the offered section usable() took. */
typedef int (tnd_sdp_accept_h)(struct tnd_sdp *ans, const struct tnd_sdp_media *om,
			       const void *pick, const struct tnd_sdp_local *l);
/* Both legs' answer skeleton: checks l, finds the audio section to take
 * (index in *take), makes the session, accepts that section and rejects
 * every other in place. 0 with *ansp, or an errno (err says why). */
int tnd_sdp_neg_answer(struct tnd_sdp **ansp, const struct tnd_sdp *offer,
		       const struct tnd_sdp_local *l, bool webrtc, tnd_sdp_usable_h *usable,
		       tnd_sdp_accept_h *accept, void *pick, unsigned *take, char *err,
		       size_t errlen);
/* Our first codec the section offers, and telephone-event at its clock:
 * 0, or ENOTSUP with the reason in why. */
int tnd_sdp_neg_pick(const struct tnd_sdp_media *om, const struct tnd_sdp_local *l,
		     struct tnd_sdp_pick *pick, char *why, size_t whylen);
/* telephone-event of ours the offer has, when pick has none yet: at the
 * picked codec's clock, or with any_clock at any clock we list. */
void tnd_sdp_neg_pick_dtmf(const struct tnd_sdp_media *om, const struct tnd_sdp_local *l,
			   struct tnd_sdp_pick *pick, bool any_clock);
/* Writes the picked codecs into an answer's section, at the offer's PTs,
 * with the rtcp-fb values of l->fb the offer gave. */
int tnd_sdp_neg_add_pick(struct tnd_sdp *ans, struct tnd_sdp_media *am,
			 const struct tnd_sdp_pick *pick, const struct tnd_sdp_local *l);
/* Our codecs for an offer, with payload types picked (sdp.h). */
int tnd_sdp_neg_add_offer_codecs(struct tnd_sdp *sdp, struct tnd_sdp_media *m,
				 const struct tnd_sdp_local *l);
/* The offered extmaps whose URI l lists, at the offer's ids. */
int tnd_sdp_neg_add_extmaps(struct tnd_sdp *ans, struct tnd_sdp_media *am,
			    const struct tnd_sdp_media *om, const struct tnd_sdp_local *l);
/* A rejected answer section for om (port 0, RFC 3264 6), with c= when
 * `conn` (sections of WebRTC answers carry their own). */
int tnd_sdp_neg_reject(struct tnd_sdp *ans, const struct tnd_sdp_media *om, bool conn);
/* The answer's direction for an offered one and the one we want. */
enum tnd_sdp_dir tnd_sdp_neg_dir(enum tnd_sdp_dir offered, enum tnd_sdp_dir want);
int tnd_sdp_neg_conn(struct tnd_sdp *sdp, struct tnd_sdp_conn *conn,
		     const struct tnd_sdp_local *l);

/* ---------------------------------- parser state, sdp_parse.c and sdp_attr.c */

/* An attribute handler's answer for "keep this a= line as written in attrs[]". */
#define TND_SDP_KEEP_RAW (-1)

struct tnd_sdp_parser {
	struct tnd_sdp *sdp;
	struct tnd_sdp_media *m;       /* section being read, NULL in the session */
	unsigned line;
	char *err;
	size_t errlen;
	bool seen_o, seen_s;
	bool sess_dir_set;
	enum tnd_sdp_dir sess_dir;
	bool sess_eoc;                 /* session-level a=end-of-candidates */
	unsigned bundle_line;
	/* per section */
	bool dir_set[TND_SDP_MAX_MEDIA];
	int16_t pt_idx[128];           /* payload type -> codecs[] index, or -1 */
	bool rtpmap_seen[128];
	bool fmtp_seen[128];
};

struct tnd_sdp_cur {
	const char *p;
	const char *end;
};

__attribute__((format(printf, 3, 4)))
int tnd_sdp_fail(struct tnd_sdp_parser *p, int code, const char *fmt, ...);
bool tnd_sdp_blank(char c);
/* The next blank-separated field; false at the end of the text. */
bool tnd_sdp_field(struct tnd_sdp_cur *c, const char **f, size_t *n);
/* What is left after blanks; lines arrive with trailing blanks cut. */
size_t tnd_sdp_rest(struct tnd_sdp_cur *c, const char **f);
/* Whether anything but blanks is left. */
bool tnd_sdp_more(struct tnd_sdp_cur *c);
/* Decimal digits only, at most max; the text need not end in NUL. */
bool tnd_sdp_number(const char *s, size_t n, uint64_t max, uint64_t *v);
int tnd_sdp_keep(struct tnd_sdp_parser *p, const char **slot, const char *s, size_t n);
/* Appends to a capped list, counting what does not fit (sdp.h, caps). */
int tnd_sdp_keep_list(struct tnd_sdp_parser *p, const char **list, unsigned *count,
		      unsigned cap, const char *s, size_t n);
bool tnd_sdp_token_ok(const char *s, size_t n);
/* One a= line, without "a=". */
int tnd_sdp_parse_attr(struct tnd_sdp_parser *p, const char *s, size_t n);

#endif
