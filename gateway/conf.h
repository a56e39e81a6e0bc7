/* The gateway's configuration: one option table (conf.c) gives the embedded
 * default, --help, conf/tandem.conf.example and validation (R10). Values are
 * parsed once into this read-only struct; on SIGHUP a new one is made and
 * swapped in only when it validates. */
#ifndef TND_GATEWAY_CONF_H
#define TND_GATEWAY_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* [calls] dtmf_mode: how digits reach the SIP side (issue 10 item 5). */
enum tnd_dtmf_mode {
	TND_DTMF_AUTO,       /* RFC 4733 when the peer has telephone-event, else in-band */
	TND_DTMF_RFC4733,
	TND_DTMF_INFO,       /* SIP INFO */
	TND_DTMF_INBAND,     /* tones in the G.711 audio */
};

/* [calls] dtmf_info: the body type of the INFOs we send. */
enum tnd_dtmf_info {
	TND_DTMF_INFO_RELAY,     /* application/dtmf-relay */
	TND_DTMF_INFO_PLAIN,     /* application/dtmf */
};

enum tnd_auth_mode {
	TND_AUTH_NONE,    /* any user name logs in; only for loopback deployments */
	TND_AUTH_USERS,   /* the [users] section, passwords as PBKDF2 hashes */
};

struct tnd_conf_user {
	char *name;       /* owned */
	char *hash;       /* owned: "pbkdf2-sha256$ITER$SALT$HASH" */
};

/* A SIP account from [accounts] ("NAME.key = value" lines): an identity
 * browsers may register and call with (issue 11). */
struct tnd_conf_account {
	char *name;       /* owned, and every string below; "" when not given */
	char *uri;        /* address of record, sip:user@domain */
	char *auth_user;  /* digest user; "" = the uri's user part */
	char *password;   /* one of password and ha1 when the registrar challenges */
	char *ha1;
	char *registrar;  /* sip: URI; "" = the uri's domain */
	char *proxy;      /* sip: URI every request of the account goes through; "" none */
	char *transport;  /* "udp", "tcp" or "" */
	char *users;      /* comma-separated users who may use it, or "*" */
	int expires;      /* seconds asked for */
};

/* Single owner: tnd_conf_load / tnd_conf_free. */
struct tnd_conf {
	char *source;                /* owned: file path, or "(embedded default)" */

	/* [log] */
	char *log_level;
	char *log_file;

	/* [websocket] */
	char *ws_listen;
	int ws_port;
	char *ws_path;
	char *ws_cert;
	char *ws_key;
	int ws_max_connections;
	int ws_max_pending_kib;
	char *ws_origins;            /* comma-separated; "" = by auth mode */
	char *ws_health_allow;       /* "*" or addresses/prefixes for /healthz, /readyz */
	char *ws_metrics_allow;      /* "*" or addresses/prefixes for /metrics */
	int ws_max_handshakes;       /* per address */
	int ws_handshake_timeout;
	int ws_rate;
	int ws_burst;

	/* [auth] */
	int auth_mode;               /* enum tnd_auth_mode */
	int token_lifetime;
	int login_max_failures;
	int login_lockout;
	int login_global_max_failures;
	int login_global_lockout;
	int login_max_pending;
	int tokens_per_user;
	char *auth_admins;           /* comma-separated users with the admin role */

	/* [sip] */
	char *sip_listen;
	int sip_port;
	bool sip_udp;
	bool sip_tcp;

	char *sip_outbound_proxy;
	char *sip_trusted;           /* comma-separated addresses and CIDR prefixes */
	char *sip_inbound_user;
	char *sip_inbound_password;
	int sip_rate;                /* per untrusted source and second; 0 off */
	int sip_block_after;         /* 0 never */
	int sip_block_time;          /* seconds */
	int sip_tcp_idle;            /* seconds; 0 off */
	int sip_tcp_max;             /* 0 off */
	int sip_tcp_max_per_source;  /* 0 off */
	int sip_dns_timeout;         /* seconds */
	int sip_session_expires;     /* seconds, 0 = off (hold: RFC 4028) */
	int sip_min_se;              /* seconds, >= 90 */
	bool sip_late_offer;         /* INVITEs without SDP (issue 11 item 3) */
	int sip_register_grace;      /* seconds a registration outlives its last WebSocket */
	bool sip_register_inline;    /* `register` may give uri and credentials itself */
	int sip_register_retry_max;  /* seconds, cap of the re-registration back-off */
	/* [sip] transports and NAT (sip/ua.c, sip/tls.c) */
	bool sip_tls;
	int sip_tls_port;
	char *sip_tls_cert;          /* PEM file paths; "" = none */
	char *sip_tls_key;
	char *sip_tls_ca;
	bool sip_tls_verify;         /* check the server's certificate on outgoing TLS */
	char *sip_external_address;  /* "" = none: Contact, Via and SIP-side c= use the listen
				      * and rtp addresses */
	int sip_keepalive;           /* seconds between CRLF pings on TCP flows; 0 off */

	/* [media] */
	int media_workers;
	char *media_ice_addresses;   /* comma-separated IP literals */
	char *media_rtp_address;
	int media_port_min;
	int media_port_max;
	char *media_stun_server;
	char *media_turn_server;
	char *media_turn_user;
	char *media_turn_password;
	bool media_turn_only;
	int media_timeout;           /* seconds; 0 off */
	bool media_strict_source;
	char *media_candidate_deny;  /* comma-separated prefixes */
	int media_max_load;          /* percent; 0 off */
	int media_socket_buffer;     /* KiB */
	char *media_sip_codecs;      /* comma-separated codec names, preference order */
	int media_sip_srtp;          /* enum tnd_sip_srtp: SDES toward SIP peers */
	char *media_sip_srtp_suites; /* comma-separated SDES suites, preference order */
	int media_opus_complexity;   /* 0..10 */
	int media_opus_bitrate;      /* bit/s; 0 libopus's choice */
	bool media_opus_fec;
	bool media_opus_dtx;
	char *media_hold_music;      /* WAV file path; "" silence (read at start-up) */

	/* [calls] */
	char *calls_allow;           /* comma-separated glob patterns on `to` */
	int max_calls;
	int calls_ring_timeout;      /* seconds an incoming call may ring */
	int calls_test_destinations; /* enum tnd_testdest_mode: echo and tone */
	int calls_max_ringing;       /* incoming calls ringing at once, in total */
	int calls_max_ringing_user;  /* ... for one user */
	int calls_max_conn;          /* browser calls at once on one WebSocket */
	int calls_max_user;          /* ... of one user, all WebSockets */
	int calls_rate;              /* browser call attempts per second per user */
	int calls_burst;             /* ... beyond the rate, at once */
	int calls_drain_timeout;     /* seconds a drain waits for calls */
	int calls_linger;            /* seconds an ended call's SIP side may take */
	int calls_reattach_grace;    /* seconds calls outlive their WebSocket; 0 off */

	/* [cdr] */
	char *cdr_file;              /* "" none */
	bool cdr_syslog;
	int cdr_queue;               /* lines waiting for the writer */

	/* [events] */
	char *events_webhook;        /* http://host[:port]/path, "" none */
	int events_queue;            /* events waiting for the webhook */
	int events_timeout;          /* seconds per attempt */
	int events_retries;          /* attempts after the first */
	int calls_dtmf_mode;         /* enum tnd_dtmf_mode: how digits reach SIP */
	int calls_dtmf_info;         /* enum tnd_dtmf_info: the INFO body we send */

	/* [users] */
	struct tnd_conf_user *users; /* owned array */
	size_t n_users;

	/* [accounts] */
	struct tnd_conf_account *accounts; /* owned array */
	size_t n_accounts;

	/* [trunks] and [dialplan] (gateway/policy/dialplan.h) */
	struct tnd_dialplan *dialplan;     /* owned; NULL when neither section is there */
};

/* Loads `path`, or the embedded default when path is NULL. On bad input
 * returns EINVAL with "FILE:LINE: [section] key: reason" in err. */
/* [calls] test_destinations (choices in this order). */
enum tnd_testdest_mode {
	TND_TESTDEST_AUTO,   /* on while WebSocket and SIP listen on loopback */
	TND_TESTDEST_ON,
	TND_TESTDEST_OFF,
};
/* [media] sip_srtp (choices in this order); also a trunk's srtp setting. */
enum tnd_sip_srtp {
	TND_SIP_SRTP_OFF,
	TND_SIP_SRTP_OPTIONAL,   /* RTP/AVP with a=crypto: SDES when the peer takes it */
	TND_SIP_SRTP_MANDATORY,  /* RTP/SAVP: no call without SDES */
};
/* Whether `echo` and `tone` may be called under this configuration. */
bool tnd_conf_test_destinations(const struct tnd_conf *c);

int tnd_conf_load(struct tnd_conf **confp, const char *path, char *err, size_t errlen);
/* Same, from text in memory (tests, fuzzer); `name` stands for the file. */
int tnd_conf_load_text(struct tnd_conf **confp, const char *name, const char *text, size_t len,
		       char *err, size_t errlen);
void tnd_conf_free(struct tnd_conf *conf);

/* The user's entry, or NULL. */
const struct tnd_conf_user *tnd_conf_user_find(const struct tnd_conf *conf, const char *name);

/* The account called `name`, or NULL. */
const struct tnd_conf_account *tnd_conf_account_find(const struct tnd_conf *conf,
						     const char *name);
/* Whether `user` (a logged-in name) may use the account. */
bool tnd_conf_account_allows(const struct tnd_conf_account *acc, const char *user);

void tnd_conf_print_help(FILE *out);
void tnd_conf_print_example(FILE *out);
/* The tandem.conf(5) man page as roff, from the same option table. */
void tnd_conf_print_man(FILE *out, const char *version);

#endif
