/* Pass-through forwarding on the bridge's worker, every packet of a call
 * whose legs share a codec (style guide R7: no allocation, no lock, no
 * unlimited logging). The payload type is mapped, the SSRC becomes the one
 * we announced on the outgoing leg, and sequence numbers and timestamps pass
 * unchanged: one source stream maps to one output stream, so its numbering
 * is already continuous. RTCP is relayed with SSRCs rewritten to match
 * (RFC 3550 section 7.2: a translator forwards reports about the streams it
 * forwards). */
#include <string.h>

#include "gateway/base/log.h"
#include "gateway/base/loop.h"
#include "gateway/base/poll.h"
#include "gateway/media/bridge_int.h"

void tnd_bridge_from_webrtc_rtp(void *arg, uint8_t *pkt, size_t len)
{
	struct tnd_bridge *br = arg;
	int16_t pt;
	int err;

	if (len < TND_RTP_HDR_LEN)
		return;
	pt = br->to_sip[tnd_rtp_pt(pkt)];
	if (pt < 0) {
		br->st.drop_pt++;
		return;
	}
	if (!br->sock) {
		br->st.drop_not_ready++;
		return;
	}
	br->browser_ssrc = tnd_rtp_ssrc(pkt);
	tnd_rtp_set_pt(pkt, (uint8_t)pt);
	tnd_rtp_set_ssrc(pkt, br->sip_ssrc);
	err = tnd_rtpsock_send_rtp(br->sock, pkt, len);
	if (err) {
		/* ENOTCONN until the SIP side's SDP gives a remote: early media */
		if (err == ENOTCONN)
			br->st.drop_not_ready++;
		else
			br->st.send_err++;
		return;
	}
	br->st.to_sip++;
}

void tnd_bridge_from_sip_rtp(void *arg, uint8_t *pkt, size_t len)
{
	struct tnd_bridge *br = arg;
	uint8_t *out = tnd_poller_tx_buf(tnd_loop_poller(br->worker));
	int16_t pt;
	int err;

	if (len < TND_RTP_HDR_LEN || len > TND_PC_MAX_PACKET)
		return;
	pt = br->to_webrtc[tnd_rtp_pt(pkt)];
	if (pt < 0) {
		br->st.drop_pt++;
		return;
	}
	if (!br->pc || tnd_pc_state(br->pc) != TND_PC_CONNECTED) {
		br->st.drop_not_ready++;
		return;
	}
	br->sip_peer_ssrc = tnd_rtp_ssrc(pkt);
	/* the packet sits in the worker's receive buffer, which another read
	 * may not touch before we return but the SRTP tag must not spill
	 * into: protect a copy in the worker's send buffer */
	memcpy(out, pkt, len);
	tnd_rtp_set_pt(out, (uint8_t)pt);
	tnd_rtp_set_ssrc(out, br->webrtc_ssrc);
	err = tnd_pc_send_rtp(br->pc, out, len, TND_POLL_BUF_SIZE);
	if (err) {
		br->st.send_err++;
		return;
	}
	br->st.to_webrtc++;
}

void tnd_bridge_from_webrtc_rtcp(void *arg, uint8_t *pkt, size_t len)
{
	struct tnd_bridge *br = arg;
	struct tnd_rtcp_ssrc_map map = {
		.set_sender = true, .sender = br->sip_ssrc,
		.set_media = br->sip_peer_ssrc != 0, .media = br->sip_peer_ssrc,
	};

	if (!br->sock || tnd_rtcp_rewrite_ssrc(pkt, len, &map))
		return;
	if (tnd_rtpsock_send_rtcp(br->sock, pkt, len) == 0)
		br->st.rtcp_to_sip++;
}

void tnd_bridge_from_sip_rtcp(void *arg, uint8_t *pkt, size_t len)
{
	struct tnd_bridge *br = arg;
	uint8_t *out = tnd_poller_tx_buf(tnd_loop_poller(br->worker));
	struct tnd_rtcp_ssrc_map map = {
		.set_sender = true, .sender = br->webrtc_ssrc,
		.set_media = br->browser_ssrc != 0, .media = br->browser_ssrc,
	};

	if (len > TND_PC_MAX_PACKET || !br->pc || tnd_pc_state(br->pc) != TND_PC_CONNECTED)
		return;
	memcpy(out, pkt, len);
	if (tnd_rtcp_rewrite_ssrc(out, len, &map))
		return;
	if (tnd_pc_send_rtcp(br->pc, out, len, TND_POLL_BUF_SIZE) == 0)
		br->st.rtcp_to_webrtc++;
}
