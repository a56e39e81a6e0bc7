/* OPTIONS pings (RFC 3261 section 11) toward a trunk: one request out of
 * dialog, its final status reported once. The gateway (call_trunk.c)
 * decides what the status means (trunk up or down) and how often to ping;
 * this file only sends and reports. Signalling thread only.
 *
 * Lifetime (R3): the ping's handle carries it as hmagic; the ping is freed
 * right after its final response is reported, or by tnd_sipping_cancel,
 * which destroys the handle first so nua delivers nothing more for it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/url.h>

#include "gateway/base/log.h"
#include "sip/sip_int.h"

struct tnd_sipping {
	struct tnd_obj obj;
	nua_handle_t *nh;       /* owned; NULL once destroyed */
	tnd_sipping_h *h;
	void *arg;
};

static void ping_destroy(void *data)
{
	struct tnd_sipping *p = data;

	if (p->nh)
		nua_handle_destroy(p->nh);
}

bool tnd_sipping_is(const void *hmagic)
{
	return hmagic && ((const struct tnd_obj *)hmagic)->destroy == ping_destroy;
}

int tnd_sipping_send(struct tnd_sipping **pingp, struct tnd_sipua *ua, const char *uri,
		     tnd_sipping_h *h, void *arg)
{
	struct tnd_sipping *p;
	char from[300];

	if (!pingp || !ua || !uri || !h || tnd_sipchk_uri(uri, false))
		return EINVAL;
	if (ua->stopping)
		return EBUSY;
	p = tnd_obj_zalloc(sizeof(*p), ping_destroy);
	if (!p)
		return ENOMEM;
	p->h = h;
	p->arg = arg;
	snprintf(from, sizeof(from), "<sip:ping@%s>", ua->from_host);
	p->nh = nua_handle(ua->nua, p, NUTAG_URL(URL_STRING_MAKE(uri)), SIPTAG_TO_STR(uri),
			   SIPTAG_FROM_STR(from), TAG_END());
	if (!p->nh) {
		tnd_obj_put(p);
		return ENOMEM;
	}
	nua_options(p->nh, TAG_END());
	*pingp = p;
	return 0;
}

void tnd_sipping_event(struct tnd_sipping *p, nua_event_t event, int status)
{
	tnd_sipping_h *h = p->h;

	if (event != nua_r_options || status < 200)
		return;
	p->h = NULL;
	if (h)
		h(p->arg, status);
	tnd_obj_put(p);
}

void tnd_sipping_cancel(struct tnd_sipping *p)
{
	if (!p)
		return;
	p->h = NULL;
	tnd_obj_put(p);
}
