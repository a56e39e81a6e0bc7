/* Music on hold ([media] hold_music, issue 11 item 4): who hears it and in
 * which codec. The held party hears it: the SIP peer while the browser
 * holds (our re-INVITE is sendonly, so we still send) unless the peer's
 * answer says it will not receive, and the browser while the SIP peer
 * holds it, unless the browser holds too. The bridge plays it in place of
 * the other leg's media, in the codec each leg agreed on when the call was
 * joined (tnd_call_join), and relays instead whatever the peer still sends
 * (gateway/media/moh.c). Without the key, hold is silence. Signalling
 * thread. */
#include <errno.h>
#include <string.h>

#include "gateway/base/log.h"
#include "gateway/call/call_int.h"

void tnd_call_moh_codec(struct tnd_call *call, unsigned side, const struct tnd_bridge_codec *c)
{
	if (side > 1)
		return;
	if (c)
		call->moh_codec[side] = *c;
	else
		memset(&call->moh_codec[side], 0, sizeof(call->moh_codec[side]));
	/* a new codec under playing music: the next update starts it again in
	 * the new one */
	if (call->moh_on[side] && call->br)
		(void)tnd_bridge_hold_music(call->br, side, NULL, NULL);
	call->moh_on[side] = false;
}

static void set(struct tnd_call *call, unsigned side, bool on)
{
	struct tnd_moh *moh = call->calls->env.moh;
	int err;

	if (on == call->moh_on[side] || (on && (!moh || !call->moh_codec[side].codec)))
		return;
	err = tnd_bridge_hold_music(call->br, side, on ? moh : NULL,
				    on ? &call->moh_codec[side] : NULL);
	if (err) {
		TND_LOG_WARN(TND_LOG_MEDIA, "call %s: hold music toward the %s: %s", call->id,
			     side ? "SIP peer" : "browser", strerror(err));
		return;
	}
	call->moh_on[side] = on;
	TND_LOG_INFO(TND_LOG_MEDIA, "call %s: hold music toward the %s %s (%s)", call->id,
		     side ? "SIP peer" : "browser", on ? "starts" : "stops",
		     call->moh_codec[side].codec ? call->moh_codec[side].codec->name : "-");
}

void tnd_call_moh_update(struct tnd_call *call, bool to_sip, bool to_browser)
{
	if (!call || !call->br)
		return;
	set(call, 1, to_sip);
	set(call, 0, to_browser);
}
