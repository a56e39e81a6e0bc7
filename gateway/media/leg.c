/* The leg kinds a bridge can hold (bridge_int.h): a WebRTC pc (ICE,
 * DTLS-SRTP) and a plain RTP socket with source learning. Worker thread.
 * Each kind's handlers get the leg as their argument, so the packet path
 * knows the side a packet came from without asking the transport. */
#include <errno.h>

#include "gateway/base/log.h"
#include "gateway/media/bridge_int.h"

/* ------------------------------------------------------------ WebRTC */

static int pc_send_rtp(void *obj, uint8_t *pkt, size_t len, size_t cap)
{
	return tnd_pc_send_rtp(obj, pkt, len, cap);
}

static int pc_send_rtcp(void *obj, uint8_t *pkt, size_t len, size_t cap)
{
	return tnd_pc_send_rtcp(obj, pkt, len, cap);
}

static bool pc_up(const void *obj)
{
	return tnd_pc_state(obj) == TND_PC_CONNECTED;
}

static void pc_release(void *obj)
{
	tnd_pc_close(obj);
	/* no handler of ours may run after this, even if libnice still
	 * gathers (review H3) */
	tnd_pc_detach(obj);
	tnd_pc_release(obj);
}

static const struct tnd_leg_ops webrtc_ops = {
	"webrtc", pc_send_rtp, pc_send_rtcp, pc_up, pc_release,
};

static void on_pc_rtp(void *arg, uint8_t *pkt, size_t len)
{
	tnd_bridge_rtp_in(arg, pkt, len);
}

static void on_pc_rtcp(void *arg, uint8_t *pkt, size_t len)
{
	tnd_bridge_rtcp_in(arg, pkt, len);
}

int tnd_leg_webrtc(struct tnd_leg *leg, struct tnd_bridge *br, const struct tnd_pc_conf *conf,
		   bool controlling)
{
	static const struct tnd_pc_handlers h = {
		tnd_bridge_on_candidate, tnd_bridge_on_pc_state, on_pc_rtp, on_pc_rtcp,
	};
	struct tnd_pc *pc;
	int err;

	err = tnd_pc_alloc(&pc, br->worker, conf, controlling, &h, leg);
	if (err)
		return err;
	leg->ops = &webrtc_ops;
	leg->obj = pc;
	leg->br = br;
	leg->rtcp.rtt_ms = -1;
	return 0;
}

/* ------------------------------------------------------------ plain RTP */

static int sock_send_rtp(void *obj, uint8_t *pkt, size_t len, size_t cap)
{
	(void)cap;
	return tnd_rtpsock_send_rtp(obj, pkt, len);
}

static int sock_send_rtcp(void *obj, uint8_t *pkt, size_t len, size_t cap)
{
	(void)cap;
	return tnd_rtpsock_send_rtcp(obj, pkt, len);
}

static bool sock_up(const void *obj)
{
	return tnd_rtpsock_has_remote(obj);
}

static void sock_release(void *obj)
{
	tnd_rtpsock_detach(obj);
	tnd_rtpsock_release(obj);
}

static const struct tnd_leg_ops rtp_ops = {
	"rtp", sock_send_rtp, sock_send_rtcp, sock_up, sock_release,
};

int tnd_leg_rtp(struct tnd_leg *leg, struct tnd_bridge *br, const struct tnd_rtpsock_conf *conf)
{
	static const struct tnd_rtpsock_handlers h = { on_pc_rtp, on_pc_rtcp };
	struct tnd_rtpsock *s;
	int err;

	err = tnd_rtpsock_alloc(&s, br->worker, conf, &h, leg);
	if (err)
		return err;
	leg->ops = &rtp_ops;
	leg->obj = s;
	leg->br = br;
	leg->port = tnd_rtpsock_port(s);
	leg->rtcp.rtt_ms = -1;
	return 0;
}

/* ------------------------------------------------------------ any kind */

void tnd_leg_release(struct tnd_leg *leg)
{
	struct tnd_bridge *br = leg->br;
	uint8_t side = leg->side;

	if (!leg->ops)
		return;
	leg->ops->release(leg->obj);   /* and drops our reference */
	*leg = (struct tnd_leg){ .side = side, .br = br };
}

struct tnd_pc *tnd_leg_pc(const struct tnd_leg *leg)
{
	return leg->ops == &webrtc_ops ? leg->obj : NULL;
}

struct tnd_rtpsock *tnd_leg_sock(const struct tnd_leg *leg)
{
	return leg->ops == &rtp_ops ? leg->obj : NULL;
}

bool tnd_leg_up(const struct tnd_leg *leg)
{
	return leg->ops && leg->ops->up(leg->obj);
}
