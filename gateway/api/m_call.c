/* Account and call methods (protocol.md "Sessions and accounts", "Calls").
 * Their SIP and WebRTC legs come later; until then each one, after the
 * envelope and login checks, answers 503 naming the missing part, so clients
 * can tell "not yet" from "wrong". */
#include <errno.h>

#include "gateway/api/api_int.h"

static int not_yet(struct tnd_api_req *req, const char *needs)
{
	tnd_api_req_msg(req, "%s is not available: it needs %s, which this version of the "
			"gateway does not have yet", req->method, needs);
	return ENOSYS;
}

static int m_registration(struct tnd_api_req *req, json_t *params)
{
	(void)params;
	return not_yet(req, "SIP registration");
}

static int m_call_leg(struct tnd_api_req *req, json_t *params)
{
	(void)params;
	return not_yet(req, "the WebRTC and SIP call legs");
}

const struct tnd_api_method tnd_api_call_methods[] = {
	{ "register", m_registration, true },
	{ "unregister", m_registration, true },
	{ "call", m_call_leg, true },
	{ "answer", m_call_leg, true },
	{ "reject", m_call_leg, true },
	{ "hangup", m_call_leg, true },
	{ "candidate", m_call_leg, true },
	{ "dtmf", m_call_leg, true },
	{ "hold", m_call_leg, true },
	{ "resume", m_call_leg, true },
	{ "transfer", m_call_leg, true },
	{ "renegotiate", m_call_leg, true },
	{ NULL, NULL, false },
};
