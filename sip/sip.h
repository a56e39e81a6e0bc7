/* The SIP leg: Sofia-SIP's NUA on the signalling thread's GLib context.
 * SDP is an opaque string here; nothing in this module knows WebRTC or the
 * API. Sofia's tag lists stay inside this module (style guide, Traps). */
#ifndef TND_SIP_SIP_H
#define TND_SIP_SIP_H

#include <stdbool.h>

#include <glib.h>

/* The SIP part of the configuration, filled by gateway/conf. */
struct tnd_sip_conf {
	const char *listen;     /* borrowed: IP literal */
	int port;
	bool udp;
	bool tcp;
	const char *user_agent; /* borrowed */
};

/* Once per process, before any user agent and before workers start. */
void tnd_sip_init(void);
void tnd_sip_deinit(void);

/* Single owner: tnd_sipua_alloc / tnd_sipua_free. One per SIP profile. */
struct tnd_sipua;

/* Binds the configured transports; EADDRINUSE when it cannot. */
int tnd_sipua_alloc(struct tnd_sipua **uap, GMainContext *ctx, const struct tnd_sip_conf *conf);

typedef void (tnd_sipua_done_h)(void *arg);
/* Ends every dialog and stops; done runs on the loop when Sofia is through. */
void tnd_sipua_shutdown(struct tnd_sipua *ua, tnd_sipua_done_h *done, void *arg);
void tnd_sipua_free(struct tnd_sipua *ua);

#endif
