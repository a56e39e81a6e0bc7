/* Registrations: one binding at a registrar per account (RFC 3261 section
 * 10) over nua_register. nua sends the REGISTER, refreshes it before the
 * granted expiry and un-registers; this file answers digest challenges
 * (auth.c), retries with back-off after a failure (1, 2, 4 ... s, capped),
 * remembers where the registrar answered from so its INVITEs to our Contact
 * pass admission (sip/admit.c: only the registration's own Contact, only
 * from that address), and reports each change. Signalling thread only.
 *
 * Lifetime (R3): ua->regs holds one reference from alloc until the binding
 * is gone (detached and its handle destroyed); the handle's hmagic borrows
 * it, and every handle is destroyed before the reference goes. A failed
 * attempt's handle is destroyed at once and the retry makes a new one, so
 * no half-dead nua state carries over. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <sofia-sip/msg_addr.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/su_tag.h>
#include <sofia-sip/url.h>

#include "gateway/base/log.h"
#include "sip/sip_int.h"

#define RETRY_MAX_DEFAULT 300

struct tnd_sipreg {
	struct tnd_obj obj;
	struct tnd_sipua *ua;            /* borrowed; NULL once cut */
	nua_handle_t *nh;                /* owned; NULL between attempts */
	struct tnd_sipreg *next, *prev;  /* ua->regs */
	tnd_sipreg_h *h;                 /* NULL once detached */
	void *arg;
	char *aor, *registrar, *proxy;   /* owned */
	char mparams[24];                /* Contact parameters: "transport=tcp" or "" */
	char contact[24];                /* our Contact's user part */
	struct tnd_sipauth auth;         /* owned */
	unsigned expires, retry_max, backoff;
	enum tnd_sipreg_state state;     /* OWNER: signal */
	GSource *retry;                  /* owned: next attempt after a failure */
	struct sockaddr_storage from;    /* where the last 2xx came from */
	bool from_set, from_udp;
	bool unregistering;              /* un-REGISTER sent */
	bool registered;                 /* a 2xx since the last failure */
};

static const char *const state_names[] = {
	[TND_SIPREG_REGISTERING] = "registering",
	[TND_SIPREG_REGISTERED] = "registered",
	[TND_SIPREG_FAILED] = "failed",
	[TND_SIPREG_UNREGISTERED] = "unregistered",
};

const char *tnd_sipreg_state_name(enum tnd_sipreg_state st)
{
	return (unsigned)st < 4 ? state_names[st] : "?";
}

static void reg_destroy(void *data)
{
	struct tnd_sipreg *reg = data;

	free(reg->aor);
	free(reg->registrar);
	free(reg->proxy);
	tnd_sipauth_clear(&reg->auth);
}

bool tnd_sipreg_is(const void *hmagic)
{
	return hmagic && ((const struct tnd_obj *)hmagic)->destroy == reg_destroy;
}

const char *tnd_sipreg_contact(const struct tnd_sipreg *reg)
{
	return reg ? reg->contact : "";
}

unsigned tnd_sipua_regs(const struct tnd_sipua *ua)
{
	return ua ? ua->n_regs : 0;
}

void *tnd_sipreg_owner_arg(const struct tnd_sipreg *reg)
{
	return reg && reg->h ? reg->arg : NULL;
}

struct tnd_sipreg *tnd_sipreg_find(struct tnd_sipua *ua, const char *user)
{
	if (!user || strncmp(user, "tnd", 3))
		return NULL;
	for (struct tnd_sipreg *r = ua->regs; r; r = r->next)
		if (r->registered && r->h && !r->unregistering && !strcmp(r->contact, user))
			return r;
	return NULL;
}

bool tnd_sipreg_from_registrar(const struct tnd_sipreg *reg, const struct sockaddr *sa)
{
	const struct sockaddr *f = (const struct sockaddr *)&reg->from;

	if (!reg->from_set || !sa || sa->sa_family != f->sa_family)
		return false;
	/* over UDP the registrar sends from its listening port; over TCP a
	 * new connection comes from any port of its address */
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)sa, *b = (const void *)f;

		return a->sin_addr.s_addr == b->sin_addr.s_addr &&
		       (!reg->from_udp || a->sin_port == b->sin_port);
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)sa, *b = (const void *)f;

		return !memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr)) &&
		       (!reg->from_udp || a->sin6_port == b->sin6_port);
	}
	return false;
}

/* ------------------------------------------------------------ list */

static void link_reg(struct tnd_sipua *ua, struct tnd_sipreg *reg)
{
	reg->prev = NULL;
	reg->next = ua->regs;
	if (ua->regs)
		ua->regs->prev = reg;
	ua->regs = reg;
	ua->n_regs++;
}

static void drop_handle(struct tnd_sipreg *reg)
{
	if (!reg->nh)
		return;
	/* clears nh_valid: nothing queued for it is delivered any more */
	nua_handle_bind(reg->nh, NULL);
	nua_handle_destroy(reg->nh);
	reg->nh = NULL;
}

static void stop_retry(struct tnd_sipreg *reg)
{
	if (reg->retry) {
		g_source_destroy(reg->retry);
		g_source_unref(reg->retry);
		reg->retry = NULL;
	}
}

/* Out of the UA's list: handle, timer and the list's reference go. */
static void unlink_reg(struct tnd_sipreg *reg)
{
	struct tnd_sipua *ua = reg->ua;

	drop_handle(reg);
	stop_retry(reg);
	if (!ua)
		return;
	if (reg->prev)
		reg->prev->next = reg->next;
	else
		ua->regs = reg->next;
	if (reg->next)
		reg->next->prev = reg->prev;
	reg->next = reg->prev = NULL;
	ua->n_regs--;
	reg->ua = NULL;
	tnd_obj_put(reg);
}

void tnd_sipreg_cut_all(struct tnd_sipua *ua)
{
	while (ua->regs) {
		struct tnd_sipreg *reg = ua->regs;

		reg->h = NULL;
		reg->arg = NULL;
		if (ua->shut && reg->nh) {
			/* nua_destroy() frees the handle; no signal to a stopped stack */
			reg->nh = NULL;
		}
		unlink_reg(reg);
	}
}

/* ------------------------------------------------------------ attempts */

static void report(struct tnd_sipreg *reg, enum tnd_sipreg_state st, int code,
		   const char *reason, unsigned expires, unsigned retry_in)
{
	reg->state = st;
	TND_LOG_INFO(TND_LOG_SIP, "registration %s (%s): %s %d %s%s", reg->contact, reg->aor,
		     tnd_sipreg_state_name(st), code, reason ? reason : "",
		     st == TND_SIPREG_FAILED ? ", retrying" : "");
	if (!reg->h)
		return;
	tnd_obj_get(reg);
	reg->h(reg->arg, reg, st, code, reason ? reason : "", expires, retry_in);
	tnd_obj_put(reg);
}

/* The REGISTER itself; hdr: our own SHA-256 credentials (auth.c) for a
 * challenged one sent again on the same handle (CSeq grows; nua keeps the
 * tags for its refreshes, whose 401 gets a new answer) */
static void register_request(struct tnd_sipreg *reg, const char *hdr, bool proxy)
{
	char expires[16];
	/* NULL unless TLS is on (Sofia's own would say sips:, sip/tls.c) */
	char *contact = tnd_siptls_contact(reg->ua, reg->contact, reg->proxy ? reg->proxy :
					   reg->registrar, NULL);

	snprintf(expires, sizeof(expires), "%u", reg->expires);
	/* nua's outbound helpers off: no OPTIONS to ourselves, no NAT
	 * guessing; TCP flows get CRLF keep-alives from the transport
	 * ([sip] keepalive, TPTAG_KEEPALIVE in ua.c) */
	nua_register(reg->nh, NUTAG_REGISTRAR(URL_STRING_MAKE(reg->registrar)),
		     TAG_IF(hdr && !proxy, SIPTAG_AUTHORIZATION_STR(hdr)),
		     TAG_IF(hdr && proxy, SIPTAG_PROXY_AUTHORIZATION_STR(hdr)),
		     NUTAG_M_USERNAME(reg->contact), SIPTAG_EXPIRES_STR(expires),
		     /* a Contact reached over TCP says so (RFC 3261 10.2.1) */
		     TAG_IF(*reg->mparams, NUTAG_M_PARAMS(reg->mparams)),
		     NUTAG_OUTBOUND("no-options-keepalive no-validate no-natify"),
		     NUTAG_KEEPALIVE(0), TAG_IF(contact, SIPTAG_CONTACT_STR(contact)),
		     TAG_IF(reg->proxy, NUTAG_PROXY(URL_STRING_MAKE(reg->proxy))), TAG_END());
	free(contact);               /* nua copied it */
}

static int send_register(struct tnd_sipreg *reg)
{
	reg->nh = nua_handle(reg->ua->nua, reg, SIPTAG_TO_STR(reg->aor),
			     SIPTAG_FROM_STR(reg->aor), TAG_END());
	if (!reg->nh)
		return ENOMEM;
	reg->state = TND_SIPREG_REGISTERING;
	reg->registered = false;
	reg->unregistering = false;
	/* a new attempt answers its challenges afresh: the count of the one
	 * that failed (a refused password, a stale nonce too many) would
	 * otherwise leave every retry unanswered for good */
	tnd_sipauth_ok(&reg->auth);
	register_request(reg, NULL, false);
	return 0;
}

/* A 401/407: SHA-256 answered by us (preferred), else MD5 by Sofia. 0 when
 * the REGISTER goes again. */
static int answer_challenge(struct tnd_sipreg *reg, const sip_t *sip, const char *label)
{
	char hdr[1024];
	bool proxy;
	int err;

	err = tnd_sipauth_sha256(&reg->auth, sip, "REGISTER", reg->registrar, label, hdr,
				 sizeof(hdr), &proxy);
	if (!err) {
		register_request(reg, hdr, proxy);
		explicit_bzero(hdr, sizeof(hdr));
		return 0;
	}
	if (err != ENOTSUP)
		return err;
	return tnd_sipauth_answer(&reg->auth, reg->nh, sip, label);
}

static gboolean on_retry(gpointer data)
{
	struct tnd_sipreg *reg = data;

	g_source_unref(reg->retry);
	reg->retry = NULL;
	if (!reg->ua || reg->ua->stopping || !reg->h)
		return G_SOURCE_REMOVE;
	if (send_register(reg)) {
		/* no handle: try again later rather than never */
		TND_LOG_WARN(TND_LOG_SIP, "registration %s: out of memory", reg->contact);
		reg->retry = g_timeout_source_new_seconds(reg->backoff);
		g_source_set_callback(reg->retry, on_retry, reg, NULL);
		g_source_attach(reg->retry, reg->ua->ctx);
	}
	return G_SOURCE_REMOVE;
}

/* The attempt failed (refused, unreachable, credentials refused): forget
 * its handle, report, and try again after the back-off. */
static void failed(struct tnd_sipreg *reg, int status, const char *phrase)
{
	unsigned wait = reg->backoff;

	drop_handle(reg);
	reg->registered = false;
	reg->from_set = false;
	if (!reg->h) {
		unlink_reg(reg);     /* detached: nothing left to un-register */
		return;
	}
	if (reg->unregistering) {
		/* removed while its REGISTER was out: nothing is bound */
		report(reg, TND_SIPREG_UNREGISTERED, status, phrase, 0, 0);
		return;
	}
	reg->backoff = reg->backoff * 2 > reg->retry_max ? reg->retry_max : reg->backoff * 2;
	if (reg->ua && !reg->ua->stopping) {
		reg->retry = g_timeout_source_new_seconds(wait);
		g_source_set_callback(reg->retry, on_retry, reg, NULL);
		g_source_attach(reg->retry, reg->ua->ctx);
	}
	report(reg, TND_SIPREG_FAILED, status, phrase, 0, wait);
}

/* Expires the registrar granted our Contact (RFC 3261 10.2.4). */
static unsigned granted(const struct tnd_sipreg *reg, const sip_t *sip)
{
	for (const sip_contact_t *m = sip ? sip->sip_contact : NULL; m; m = m->m_next) {
		if (m->m_url->url_user && !strcmp(m->m_url->url_user, reg->contact) &&
		    m->m_expires)
			return (unsigned)strtoul(m->m_expires, NULL, 10);
	}
	if (sip && sip->sip_expires)
		return (unsigned)sip->sip_expires->ex_delta;
	return reg->expires;
}

static void note_source(struct tnd_sipreg *reg)
{
	msg_t *msg = nua_current_request(reg->ua->nua);
	su_addrinfo_t *ai = msg ? msg_addrinfo(msg) : NULL;

	if (!ai || !ai->ai_addr || ai->ai_addrlen > sizeof(reg->from))
		return;
	memset(&reg->from, 0, sizeof(reg->from));
	memcpy(&reg->from, ai->ai_addr, ai->ai_addrlen);
	reg->from_udp = ai->ai_protocol == IPPROTO_UDP;
	reg->from_set = true;
}

static void on_r_register(struct tnd_sipreg *reg, int status, const char *phrase,
			  const sip_t *sip)
{
	char label[64];

	if (status < 200)
		return;
	if (status == 401 || status == 407) {
		snprintf(label, sizeof(label), "registration %s", reg->contact);
		if (!answer_challenge(reg, sip, label))
			return;
		failed(reg, status, phrase);
		return;
	}
	tnd_sipauth_ok(&reg->auth);
	if (status >= 300) {
		failed(reg, status, phrase);
		return;
	}
	note_source(reg);
	reg->registered = true;
	reg->backoff = 1;
	report(reg, TND_SIPREG_REGISTERED, status, phrase, granted(reg, sip), 0);
}

/* answer_challenge for the un-REGISTER */
static int answer_unregister(struct tnd_sipreg *reg, const sip_t *sip, const char *label)
{
	char hdr[1024];
	bool proxy;
	int err;

	err = tnd_sipauth_sha256(&reg->auth, sip, "REGISTER", reg->registrar, label, hdr,
				 sizeof(hdr), &proxy);
	if (!err) {
		nua_unregister(reg->nh, TAG_IF(!proxy, SIPTAG_AUTHORIZATION_STR(hdr)),
			       TAG_IF(proxy, SIPTAG_PROXY_AUTHORIZATION_STR(hdr)), TAG_END());
		explicit_bzero(hdr, sizeof(hdr));
		return 0;
	}
	if (err != ENOTSUP)
		return err;
	return tnd_sipauth_answer(&reg->auth, reg->nh, sip, label);
}

static void on_r_unregister(struct tnd_sipreg *reg, int status, const char *phrase,
			    const sip_t *sip)
{
	char label[64];

	if (status < 200)
		return;
	if (status == 401 || status == 407) {
		snprintf(label, sizeof(label), "un-registration %s", reg->contact);
		if (!answer_unregister(reg, sip, label))
			return;
	}
	drop_handle(reg);
	reg->registered = false;
	if (reg->h)
		report(reg, TND_SIPREG_UNREGISTERED, status, phrase, 0, 0);
	else
		unlink_reg(reg);     /* detached: the binding is gone */
}

void tnd_sipreg_event(struct tnd_sipreg *reg, nua_event_t event, int status,
		      const char *phrase, nua_handle_t *nh, const sip_t *sip, tagi_t tags[])
{
	(void)tags;
	if (nh != reg->nh)
		return;
	TND_LOG_DEBUG(TND_LOG_SIP, "registration %s: %s %d %s", reg->contact,
		      nua_event_name(event), status, phrase ? phrase : "");
	tnd_obj_get(reg);
	switch (event) {
	case nua_r_register:
		on_r_register(reg, status, phrase, sip);
		break;
	case nua_r_unregister:
		on_r_unregister(reg, status, phrase, sip);
		break;
	case nua_r_authenticate:
		/* nua could not apply our credentials at all */
		if (status >= 300) {
			if (reg->unregistering)
				on_r_unregister(reg, status, phrase, NULL);
			else
				failed(reg, status, phrase);
		}
		break;
	default:
		break;
	}
	tnd_obj_put(reg);
}

/* ------------------------------------------------------------ API */

static int check_params(const struct tnd_sipreg_params *p)
{
	if (!p->aor || tnd_sipchk_uri(p->aor, false) || !strchr(p->aor, '@'))
		return EINVAL;
	if ((p->registrar && tnd_sipchk_uri(p->registrar, false)) ||
	    (p->proxy && tnd_sipchk_uri(p->proxy, false)))
		return EINVAL;
	if (p->transport && strcmp(p->transport, "udp") && strcmp(p->transport, "tcp") &&
	    strcmp(p->transport, "tls"))
		return EINVAL;
	if (p->cred && tnd_sip_cred_check(p->cred))
		return EINVAL;
	if (p->expires < 10 || p->expires > 86400)
		return EINVAL;
	return 0;
}

/* "sip:host[:port][;params]" of the AOR when no registrar is given, with
 * ;transport= added when asked and not there. */
static char *registrar_uri(const struct tnd_sipreg_params *p)
{
	const char *base = p->registrar;
	char *host = NULL, *out;

	if (!base) {
		const char *at = strchr(p->aor, '@');
		bool sips = !strncmp(p->aor, "sips:", 5);

		host = g_strdup_printf("%s:%s", sips ? "sips" : "sip", at + 1);
		base = host;
	}
	if (p->transport && !strstr(base, ";transport="))
		out = g_strdup_printf("%s;transport=%s", base, p->transport);
	else
		out = g_strdup(base);
	g_free(host);
	return out;
}

int tnd_sipreg_alloc(struct tnd_sipreg **regp, struct tnd_sipua *ua,
		     const struct tnd_sipreg_params *p, tnd_sipreg_h *h, void *arg)
{
	unsigned char rnd[8];
	struct tnd_sipreg *reg;
	char *uri;
	int err;

	if (!regp || !ua || !p || !h || check_params(p))
		return EINVAL;
	if (ua->stopping)
		return EBUSY;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return EIO;
	reg = tnd_obj_zalloc(sizeof(*reg), reg_destroy);
	if (!reg)
		return ENOMEM;
	err = ENOMEM;
	reg->aor = strdup(p->aor);
	uri = registrar_uri(p);
	reg->registrar = uri ? strdup(uri) : NULL;
	g_free(uri);
	if (p->proxy)
		reg->proxy = strdup(p->proxy);
	if (!reg->aor || !reg->registrar || (p->proxy && !reg->proxy))
		goto out;
	err = tnd_sipauth_set(&reg->auth, p->cred);
	if (err)
		goto out;
	snprintf(reg->contact, sizeof(reg->contact), "tnd%02x%02x%02x%02x%02x%02x%02x%02x",
		 rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	if (p->transport && !strcmp(p->transport, "tcp"))
		snprintf(reg->mparams, sizeof(reg->mparams), "transport=tcp");
	reg->expires = p->expires;
	reg->retry_max = p->retry_max ? p->retry_max : RETRY_MAX_DEFAULT;
	reg->backoff = 1;
	reg->h = h;
	reg->arg = arg;
	reg->ua = ua;
	tnd_obj_get(reg);                /* the list's */
	link_reg(ua, reg);
	err = send_register(reg);
	if (err) {
		reg->h = NULL;
		unlink_reg(reg);
		goto out;
	}
	TND_LOG_INFO(TND_LOG_SIP, "registration %s: REGISTER %s at %s (expires %u)",
		     reg->contact, reg->aor, reg->registrar, reg->expires);
 out:
	if (err)
		tnd_obj_put(reg);
	else
		*regp = reg;
	return err;
}

int tnd_sipreg_unregister(struct tnd_sipreg *reg)
{
	if (!reg || !reg->ua)
		return EINVAL;
	stop_retry(reg);
	if (reg->unregistering)
		return 0;
	if (!reg->nh)
		return EALREADY;     /* nothing bound: a failed attempt waits */
	reg->unregistering = true;
	reg->auth.tries = 0;
	nua_unregister(reg->nh, TAG_END());
	return 0;
}

void tnd_sipreg_detach(struct tnd_sipreg *reg)
{
	if (!reg || !reg->h)
		return;
	reg->h = NULL;
	reg->arg = NULL;
	if (!reg->ua)
		return;
	if (reg->nh && !reg->ua->stopping && !tnd_sipreg_unregister(reg))
		return;              /* gone from the list when the answer comes */
	unlink_reg(reg);
}

int tnd_sipreg_copy_auth(const struct tnd_sipreg *reg, struct tnd_sipauth *a)
{
	tnd_sipauth_clear(a);
	if (!reg->auth.user || !reg->auth.secret)
		return 0;
	a->user = strdup(reg->auth.user);
	a->secret = strdup(reg->auth.secret);
	if (!a->user || !a->secret) {
		tnd_sipauth_clear(a);
		return ENOMEM;
	}
	return 0;
}
