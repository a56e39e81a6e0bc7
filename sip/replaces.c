/* An incoming INVITE with Replaces (RFC 3891 section 3): which dialog of
 * ours it names, and whether it may take that dialog over. Sofia parses
 * the header (sip_replaces_t) and leaves the rest to us: nua treats such
 * an INVITE as any new call. Signalling thread.
 *
 * The tags are matched as if they came in a request of the named dialog:
 * to-tag against our local tag, from-tag against the peer's. Only INVITE
 * dialogs of the UA's call list count (not registrations or pings), and
 * never the new INVITE's own. Admission (admit.c) has run before: a source
 * that may not call us may not replace a call either. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/nua.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>

#include "sip/sip_int.h"

void tnd_sipcall_note_early(struct tnd_sipcall *call, const sip_t *sip)
{
	const char *tag = sip && sip->sip_to ? sip->sip_to->a_tag : NULL;
	size_t n = sizeof(call->early_tags) / sizeof(call->early_tags[0]);

	if (!tag || !*tag || strlen(tag) >= sizeof(call->early_tags[0]))
		return;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(call->early_tags[i], tag))
			return;
	/* forks beyond the last few are forgotten: a Replaces for one gets 481 */
	snprintf(call->early_tags[call->early_next++ % n], sizeof(call->early_tags[0]), "%s", tag);
}

/* Whether one of our INVITE's early dialogs has the peer's tag `tag`. */
static bool early_tag(const struct tnd_sipcall *call, const char *tag)
{
	for (size_t i = 0; i < sizeof(call->early_tags) / sizeof(call->early_tags[0]); i++)
		if (*call->early_tags[i] && !strcasecmp(call->early_tags[i], tag))
			return true;
	return false;
}

/* Whether `call`'s dialog has Call-ID and tags of `rp`, seen from our side. */
static bool same_dialog(const struct tnd_sipcall *call, const sip_replaces_t *rp)
{
	su_home_t home[1] = { SU_HOME_INIT(home) };
	sip_replaces_t *ours;
	bool same = false, early;

	if (!call->nh || !call->call_id || strcmp(call->call_id, rp->rp_call_id))
		return false;
	early = call->outgoing && !call->established;
	/* nua writes a dialog's Replaces for its peer: from-tag ours, to-tag
	 * theirs ("0" while our INVITE has no dialog on its leg) */
	ours = nua_handle_make_replaces(call->nh, home, 0);
	if (ours && ours->rp_from_tag && ours->rp_to_tag &&
	    !strcasecmp(ours->rp_from_tag, rp->rp_to_tag))
		same = early ? early_tag(call, rp->rp_from_tag) :
		       !strcasecmp(ours->rp_to_tag, rp->rp_from_tag);
	su_home_deinit(home);
	return same;
}

int tnd_sipcall_replaced(struct tnd_sipua *ua, const struct tnd_sipcall *self, const sip_t *sip,
			 struct tnd_sipcall **matchp, const char **phrase)
{
	const sip_replaces_t *rp = sip->sip_replaces;
	struct tnd_sipcall *c;

	*matchp = NULL;
	if (!rp)
		return 0;
	/* one Replaces, with all three parts (section 6.1) */
	if (rp->rp_next || !rp->rp_call_id || !rp->rp_to_tag || !rp->rp_from_tag) {
		*phrase = sip_400_Bad_request;
		return 400;
	}
	for (c = ua->calls; c; c = c->next)
		if (c != self && same_dialog(c, rp))
			break;
	if (!c) {
		*phrase = sip_481_No_transaction;
		return 481;
	}
	switch (c->state) {
	case CS_CONFIRMED:
	case CS_ANSWERED:
		/* our 2xx makes the dialog confirmed for us (RFC 3261 12.1.1);
		 * early-only asks not to take a confirmed one (section 7.1) */
		if (rp->rp_early_only) {
			*phrase = sip_486_Busy_here;
			return 486;
		}
		break;
	case CS_RESOLVING:
	case CS_CALLING:
	case CS_PROCEEDING:
		/* an early dialog we started: taken over, the old one CANCELled */
		break;
	case CS_RECEIVED:
	case CS_EARLY:
		/* an early dialog someone else started: RFC 3891 section 3
		 * says 481, as if there were none */
		*phrase = sip_481_No_transaction;
		return 481;
	default:
		*phrase = sip_603_Decline;   /* ending: section 3's "already terminated" */
		return 603;
	}
	if (c->detached) {
		*phrase = sip_603_Decline;   /* its owner let it go: it is ending */
		return 603;
	}
	*matchp = c;
	return 0;
}
