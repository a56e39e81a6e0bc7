/* The option table and its loading: see conf.h. Every key the gateway reads
 * is a row here; nothing else reads the file. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "gateway/base/ini.h"
#include "gateway/base/log.h"
#include "gateway/base/opt.h"
#include "gateway/conf.h"
#include "gateway/conf_int.h"
#include "gateway/policy/dialplan.h"
#include "gateway/policy/policy.h"

#define OFF(f) offsetof(struct tnd_conf, f)
#define CONF_MAX_USERS 10000

static const char *const auth_modes[] = { "none", "users", NULL };
static const char *const test_dest_modes[] = { "auto", "on", "off", NULL };
/* [media] sip_srtp: enum tnd_sip_srtp order (SDES toward SIP peers) */
static const char *const sip_srtp_modes[] = { "off", "optional", "mandatory", NULL };
static const char *const dtmf_modes[] = { "auto", "rfc4733", "info", "inband", NULL };
static const char *const dtmf_infos[] = { "dtmf-relay", "dtmf", NULL };

static const struct tnd_opt opts[] = {
	{ "log", "level", TND_OPT_STR, "info", 0, 0, NULL, OFF(log_level), tnd_conf_check_levels,
	  "Log level: error, warn, notice, info or debug, optionally followed by per-module "
	  "levels, e.g. \"info,sip=debug\". Reloaded on SIGHUP." },
	{ "log", "file", TND_OPT_STR, "", 0, 0, NULL, OFF(log_file), NULL,
	  "Log file, appended to and reopened on SIGHUP (for rotation). Empty logs to "
	  "stderr." },

	{ "websocket", "listen", TND_OPT_STR, "127.0.0.1", 0, 0, NULL, OFF(ws_listen), tnd_conf_check_addr,
	  "Address the signalling WebSocket listens on. Needs a restart to change." },
	{ "websocket", "port", TND_OPT_INT, "8088", 1, 65535, NULL, OFF(ws_port), NULL,
	  "TCP port of the signalling WebSocket. Needs a restart to change." },
	{ "websocket", "path", TND_OPT_STR, "/ws", 0, 0, NULL, OFF(ws_path), tnd_conf_check_path,
	  "HTTP path of the WebSocket; other paths are refused." },
	{ "websocket", "cert", TND_OPT_STR, "", 0, 0, NULL, OFF(ws_cert), tnd_conf_check_readable,
	  "PEM certificate chain. When set (with key), the socket speaks wss:// only." },
	{ "websocket", "key", TND_OPT_STR, "", 0, 0, NULL, OFF(ws_key), tnd_conf_check_readable,
	  "PEM private key of the certificate." },
	{ "websocket", "max_connections", TND_OPT_INT, "1024", 1, 100000, NULL,
	  OFF(ws_max_connections), NULL,
	  "Open WebSockets at most; further ones are refused." },
	{ "websocket", "max_pending_kib", TND_OPT_INT, "1024", 64, 65536, NULL,
	  OFF(ws_max_pending_kib), NULL,
	  "Unsent data allowed to queue for a client that does not read; past it the "
	  "connection is closed (1008)." },
	{ "websocket", "origins", TND_OPT_STR, "", 0, 0, NULL, OFF(ws_origins), NULL,
	  "Comma-separated Origin values (scheme://host[:port]) whose pages may open the "
	  "WebSocket; \"*\" allows any. Empty: any Origin with auth = users, and only "
	  "loopback pages (http://127.x.y.z, localhost, [::1]) with auth = none. A "
	  "handshake without Origin (not a browser) is always allowed. Others get 403." },
	{ "websocket", "health_allow", TND_OPT_STR, "127.0.0.0/8, ::1", 0, 0, NULL,
	  OFF(ws_health_allow), tnd_conf_check_allow_list,
	  "Addresses and CIDR prefixes (comma-separated) that may fetch /healthz and "
	  "/readyz on this port, the load balancer's probes (docs/operations.md); \"*\" "
	  "allows any. Others get 403. Empty: nobody." },
	{ "websocket", "metrics_allow", TND_OPT_STR, "127.0.0.0/8, ::1", 0, 0, NULL,
	  OFF(ws_metrics_allow), tnd_conf_check_allow_list,
	  "Addresses and CIDR prefixes (comma-separated) that may fetch /metrics on this "
	  "port, the Prometheus scrape (docs/operations.md); \"*\" allows any. Others get "
	  "403. Empty: nobody." },
	{ "websocket", "max_handshakes_per_address", TND_OPT_INT, "16", 1, 10000, NULL,
	  OFF(ws_max_handshakes), NULL,
	  "Connections from one address that may be in their HTTP handshake at once; "
	  "further ones are closed at accept." },
	{ "websocket", "handshake_timeout", TND_OPT_INT, "5", 1, 60, NULL,
	  OFF(ws_handshake_timeout), NULL,
	  "Seconds a connection may take to complete its WebSocket handshake." },
	{ "websocket", "rate", TND_OPT_INT, "50", 1, 100000, NULL, OFF(ws_rate), NULL,
	  "Requests per second one connection may send on average; above it requests "
	  "get error 429, and a connection that keeps going is closed (1008)." },
	{ "websocket", "burst", TND_OPT_INT, "200", 1, 100000, NULL, OFF(ws_burst), NULL,
	  "Requests one connection may send at once above [websocket] rate." },

	{ "auth", "mode", TND_OPT_ENUM, "none", 0, 0, auth_modes, OFF(auth_mode), NULL,
	  "none: any user name may log in without a password (allowed only while "
	  "[websocket] listen is a loopback address). users: log in with a password from "
	  "[users] or a token from an earlier login." },
	{ "auth", "token_lifetime", TND_OPT_INT, "3600", 60, 2592000, NULL, OFF(token_lifetime),
	  NULL, "Seconds a login token stays valid for logging in again." },
	{ "auth", "max_failures", TND_OPT_INT, "5", 1, 1000, NULL, OFF(login_max_failures), NULL,
	  "Failed logins from one address before it is locked out (error 429)." },
	{ "auth", "lockout", TND_OPT_INT, "60", 1, 86400, NULL, OFF(login_lockout), NULL,
	  "Seconds an address stays locked out; failures older than this are forgotten." },
	{ "auth", "global_max_failures", TND_OPT_INT, "100", 1, 1000000, NULL,
	  OFF(login_global_max_failures), NULL,
	  "Failed logins per minute from all addresses together before every password login "
	  "pauses for [auth] global_lockout seconds (error 429). Token logins go on." },
	{ "auth", "global_lockout", TND_OPT_INT, "10", 1, 3600, NULL, OFF(login_global_lockout),
	  NULL, "Seconds password logins pause after [auth] global_max_failures." },
	{ "auth", "max_pending_logins", TND_OPT_INT, "32", 1, 10000, NULL,
	  OFF(login_max_pending), NULL,
	  "Password checks queued or running at once for the whole gateway (each takes "
	  "tens of ms of CPU); further logins get error 429. One connection may have 4." },
	{ "auth", "tokens_per_user", TND_OPT_INT, "16", 1, 1000, NULL, OFF(tokens_per_user),
	  NULL, "Live login tokens per user; a new one retires the oldest." },
	{ "auth", "admins", TND_OPT_STR, "", 0, 0, NULL, OFF(auth_admins), NULL,
	  "Comma-separated users with the admin role: once logged in, they may use the "
	  "admin.* requests and events.subscribe (docs/operations.md); anyone else gets "
	  "403. With mode = none anyone may log in under these names. Reloaded on SIGHUP." },

	{ "sip", "listen", TND_OPT_STR, "127.0.0.1", 0, 0, NULL, OFF(sip_listen), tnd_conf_check_addr,
	  "Address of the SIP user agent. Needs a restart to change." },
	{ "sip", "port", TND_OPT_INT, "5060", 1, 65535, NULL, OFF(sip_port), NULL,
	  "SIP port, for every enabled transport. Needs a restart to change." },
	{ "sip", "udp", TND_OPT_BOOL, "true", 0, 0, NULL, OFF(sip_udp), NULL,
	  "Listen for SIP over UDP." },
	{ "sip", "tcp", TND_OPT_BOOL, "true", 0, 0, NULL, OFF(sip_tcp), NULL,
	  "Listen for SIP over TCP." },
	{ "sip", "outbound_proxy", TND_OPT_STR, "", 0, 0, NULL, OFF(sip_outbound_proxy),
	  tnd_conf_check_sip_uri,
	  "SIP URI every outgoing request is sent through (e.g. sip:127.0.0.1:5070;lr). "
	  "Empty sends to the request URI's host." },
	{ "sip", "trusted", TND_OPT_STR, "", 0, 0, NULL, OFF(sip_trusted), tnd_conf_check_prefix_list,
	  "Sources whose INVITEs are taken without credentials or rate limits: IP addresses "
	  "and CIDR prefixes, comma-separated (trunks, PBXes, the proxy). Empty trusts "
	  "loopback while listen is a loopback address, and nobody otherwise. Untrusted "
	  "sources get 403 for every INVITE (whoever is called) unless inbound_user is set." },
	{ "sip", "inbound_user", TND_OPT_STR, "", 0, 0, NULL, OFF(sip_inbound_user), NULL,
	  "User name an untrusted source must prove with digest authentication (RFC 2617: "
	  "realm \"tandem\", MD5, qop=auth) to place a call to the gateway. Nonces last "
	  "300 s and are not counted, so a captured answer can be replayed that long: "
	  "prefer trusted for peers on a fixed address. Empty: no credentials are taken." },
	{ "sip", "inbound_password", TND_OPT_STR, "", 0, 0, NULL, OFF(sip_inbound_password),
	  NULL, "Password of inbound_user." },
	{ "sip", "rate", TND_OPT_INT, "10", 0, 100000, NULL, OFF(sip_rate), NULL,
	  "INVITE and OPTIONS requests per second taken from one untrusted source (bursts "
	  "of twice as many); the rest get 403. 0: no limit." },
	{ "sip", "block_after", TND_OPT_INT, "20", 0, 100000, NULL, OFF(sip_block_after), NULL,
	  "Refused requests (403, wrong credentials, over the rate) from one untrusted "
	  "source within block_time that block it for block_time seconds: its requests then "
	  "get 403 unexamined, and the block is logged once. 0: never block." },
	{ "sip", "block_time", TND_OPT_INT, "60", 1, 86400, NULL, OFF(sip_block_time), NULL,
	  "Seconds a blocked source stays blocked; also the window block_after counts in." },
	{ "sip", "tcp_idle_timeout", TND_OPT_INT, "60", 0, 86400, NULL, OFF(sip_tcp_idle), NULL,
	  "Seconds a SIP TCP connection may pass without a byte before it is closed "
	  "(a connection still used by a transaction stays). 0: never. Connections whose "
	  "peer has closed are always closed at once." },
	{ "sip", "tcp_max_connections", TND_OPT_INT, "256", 0, 100000, NULL, OFF(sip_tcp_max),
	  NULL, "SIP TCP connections accepted at once; the newest beyond it are closed. "
	  "Whatever this says, new ones are refused while fewer than an eighth of the "
	  "process's descriptor limit (at least 32) is free. 0: no cap." },
	{ "sip", "tcp_max_per_source", TND_OPT_INT, "32", 0, 100000, NULL,
	  OFF(sip_tcp_max_per_source), NULL,
	  "SIP TCP connections from one untrusted address at once; the newest beyond it are "
	  "closed. 0: no cap." },
	{ "sip", "dns_timeout", TND_OPT_INT, "5", 1, 60, NULL, OFF(sip_dns_timeout), NULL,
	  "Seconds an outgoing call may spend looking up its next hop's host name (SRV, "
	  "then A/AAAA) before it ends with 504. Lookups never block the gateway." },
	/* hold and re-INVITE (issue 11 item 4) */
	{ "sip", "session_expires", TND_OPT_INT, "1800", 0, 86400, NULL,
	  OFF(sip_session_expires), NULL,
	  "RFC 4028 session timer: the Session-Expires seconds asked for on our calls and "
	  "granted on the peer's (at least min_se). The refresher re-sends its offer before "
	  "it runs out; when the peer is the refresher and its refresh never comes, the "
	  "gateway ends the call with BYE. 0: none asked (a peer's own is still honoured)." },
	{ "sip", "min_se", TND_OPT_INT, "90", 90, 86400, NULL, OFF(sip_min_se), NULL,
	  "Smallest Session-Expires (seconds) taken from a peer; a shorter one gets 422 "
	  "with this Min-SE. RFC 4028 sets 90 as the floor." },
	/* issue 11 item 3 (early media and offers) */
	{ "sip", "late_offer", TND_OPT_BOOL, "false", 0, 0, NULL, OFF(sip_late_offer), NULL,
	  "Send INVITEs without SDP (late offer, RFC 3261 13.2.1): the SIP peer offers in "
	  "its 200 and the gateway answers in the ACK, transcoding when the peer's codec is "
	  "not the browser's. For peers and trunks that want to offer themselves." },

	{ "sip", "register_grace", TND_OPT_INT, "60", 0, 86400, NULL, OFF(sip_register_grace),
	  NULL, "Seconds a registration (`register`) stays after the last WebSocket of its "
	  "user closed, so a page reload does not drop the agent from a queue; then it is "
	  "removed from the registrar. 0: at once." },
	{ "sip", "register_inline", TND_OPT_BOOL, "false", 0, 0, NULL,
	  OFF(sip_register_inline), NULL,
	  "Let `register` and `call` bring their own uri, registrar and credentials instead "
	  "of naming an [accounts] entry. Off: only configured accounts, each for its "
	  "users." },
	{ "sip", "register_retry_max", TND_OPT_INT, "300", 2, 3600, NULL,
	  OFF(sip_register_retry_max), NULL,
	  "After a registration fails (refused, or the registrar unreachable) it is tried "
	  "again after 1 s, then 2, 4, 8 ... seconds, at most this many." },

	{ "sip", "tls", TND_OPT_BOOL, "false", 0, 0, NULL, OFF(sip_tls), NULL,
	  "Listen for SIP over TLS (sips: URIs and ;transport=tls) on tls_port, and place "
	  "calls over TLS to such URIs. Needs tls_cert and tls_key. Needs a restart. "
	  "Sofia-SIP 1.12 never frees a TLS connection's OpenSSL state (about 14 KiB per "
	  "connection, also one that never finishes its handshake): open tls_port only "
	  "to known peers (firewall), or restart the gateway now and then." },
	{ "sip", "tls_port", TND_OPT_INT, "5061", 1, 65535, NULL, OFF(sip_tls_port), NULL,
	  "SIP over TLS port (must differ from port)." },
	{ "sip", "tls_cert", TND_OPT_STR, "", 0, 0, NULL, OFF(sip_tls_cert), tnd_conf_check_readable,
	  "PEM file with the gateway's SIP TLS certificate (and its chain)." },
	{ "sip", "tls_key", TND_OPT_STR, "", 0, 0, NULL, OFF(sip_tls_key), tnd_conf_check_readable,
	  "PEM file with the private key of tls_cert (unencrypted)." },
	{ "sip", "tls_ca", TND_OPT_STR, "", 0, 0, NULL, OFF(sip_tls_ca), tnd_conf_check_readable,
	  "PEM file of the CA certificates that sign the SIP TLS peers' certificates. "
	  "Empty: the system's (/etc/ssl/certs/ca-certificates.crt)." },
	{ "sip", "tls_verify", TND_OPT_BOOL, "true", 0, 0, NULL, OFF(sip_tls_verify), NULL,
	  "On outgoing TLS connections, refuse a server whose certificate is not signed by "
	  "tls_ca, or, for calls, does not name the URI's host (the call ends with 503 and "
	  "nothing is sent; registrations check the chain only). Incoming TLS connections "
	  "are not asked for a certificate; [sip] trusted and inbound_user admit them as "
	  "others." },
	{ "sip", "external_address", TND_OPT_STR, "", 0, 0, NULL, OFF(sip_external_address),
	  tnd_conf_check_host, "Public IP address or host name of the gateway behind NAT: put in "
	  "Contact, Via and From toward SIP peers, and in the SDP c= line of the SIP leg "
	  "(the RTP sockets still bind [media] rtp_address; the browser side is set by "
	  "[media] ice_addresses). Empty: the listen and rtp_address addresses." },
	{ "sip", "keepalive", TND_OPT_INT, "30", 0, 3600, NULL, OFF(sip_keepalive), NULL,
	  "Seconds between RFC 5626 CRLF keep-alives on every SIP TCP connection (those "
	  "toward registrars and proxies keep their NAT bindings open; no pong is "
	  "expected). 0: none. Not sent on TLS connections (Sofia-SIP 1.12 cannot): a "
	  "trunk registered over TLS gets an OPTIONS to its registrar this often instead." },

	{ "media", "workers", TND_OPT_INT, "2", 1, 64, NULL, OFF(media_workers), NULL,
	  "Media worker threads. A call's media stays on one worker; give about one per "
	  "core. Needs a restart to change." },
	{ "media", "ice_addresses", TND_OPT_STR, "127.0.0.1", 0, 0, NULL,
	  OFF(media_ice_addresses), tnd_conf_check_addr_list,
	  "Addresses offered to browsers as ICE host candidates, separated by commas "
	  "(loopback works too: they are added explicitly)." },
	{ "media", "rtp_address", TND_OPT_STR, "127.0.0.1", 0, 0, NULL, OFF(media_rtp_address),
	  tnd_conf_check_addr, "Address of the RTP sockets toward SIP peers, as put in SDP." },
	{ "media", "port_min", TND_OPT_INT, "20000", 1024, 65534, NULL, OFF(media_port_min),
	  NULL, "Lowest UDP port for media (ICE and RTP)." },
	{ "media", "port_max", TND_OPT_INT, "29999", 1025, 65535, NULL, OFF(media_port_max),
	  NULL, "Highest UDP port for media." },
	{ "media", "stun_server", TND_OPT_STR, "", 0, 0, NULL, OFF(media_stun_server),
	  tnd_conf_check_hostport, "STUN server (IP:port) for server-reflexive ICE candidates; empty "
	  "for none." },
	{ "media", "turn_server", TND_OPT_STR, "", 0, 0, NULL, OFF(media_turn_server),
	  tnd_conf_check_hostport, "TURN server (IP:port, UDP) for relayed ICE candidates; empty for "
	  "none." },
	{ "media", "turn_user", TND_OPT_STR, "", 0, 0, NULL, OFF(media_turn_user), NULL,
	  "TURN user name." },
	{ "media", "turn_password", TND_OPT_STR, "", 0, 0, NULL, OFF(media_turn_password), NULL,
	  "TURN password." },
	{ "media", "turn_only", TND_OPT_BOOL, "false", 0, 0, NULL, OFF(media_turn_only), NULL,
	  "Offer browsers only TURN relayed candidates and send all their media through the "
	  "TURN server: hides the gateway's addresses. Needs turn_server." },
	{ "media", "timeout", TND_OPT_INT, "30", 0, 3600, NULL, OFF(media_timeout), NULL,
	  "Seconds without any RTP or RTCP from a leg (the SIP peer or the browser) after "
	  "which the call ends: BYE to the SIP side, and `ended` with the reason to the "
	  "browser. 0 never ends a call for silence." },
	{ "media", "strict_source", TND_OPT_BOOL, "false", 0, 0, NULL,
	  OFF(media_strict_source), NULL,
	  "Accept SIP-side RTP only from the address in the peer's SDP (and port changes "
	  "from that IP). Off: a source is also learned from another address early in "
	  "the call, after probation, for peers behind NAT." },
	{ "media", "candidate_deny", TND_OPT_STR,
	  "0.0.0.0/8,169.254.0.0/16,224.0.0.0/3,fe80::/10,ff00::/8", 0, 0, NULL,
	  OFF(media_candidate_deny), tnd_conf_check_cidr_list,
	  "Address prefixes (IP/len, separated by commas) that browsers' ICE candidates may "
	  "not point at: the gateway never sends ICE checks there. Add your internal "
	  "networks (e.g. 10.0.0.0/8) when browsers are not on them." },
	{ "media", "socket_buffer", TND_OPT_INT, "16", 4, 4096, NULL, OFF(media_socket_buffer),
	  NULL,
	  "Receive buffer of each media socket, KiB (the kernel doubles it). It bounds how "
	  "late a packet can be when a worker falls behind: past capacity, a small buffer "
	  "drops packets where a large one delays every packet by seconds. 16 KiB holds "
	  "about 20 audio packets (400 ms)." },
	{ "media", "max_load", TND_OPT_INT, "90", 0, 100, NULL, OFF(media_max_load), NULL,
	  "Percent of a core a media worker may be busy before it takes no new call; new "
	  "calls get 503 when every worker is past it. 0: no limit." },
	{ "media", "sip_codecs", TND_OPT_STR, "PCMU,PCMA,G722,opus,G729", 0, 0, NULL,
	  OFF(media_sip_codecs), tnd_conf_check_codec_list,
	  "Codecs offered to SIP peers, in preference order (PCMU, PCMA, G722, G729, opus, "
	  "iLBC), plus telephone-event. The browser's codec is relayed untouched when the "
	  "SIP peer picks it; any other is transcoded. Answering a SIP offer, the offerer's "
	  "first codec in this list is taken, at its ptime." },
	{ "media", "sip_srtp", TND_OPT_ENUM, "off", 0, 0, sip_srtp_modes, OFF(media_sip_srtp),
	  NULL,
	  "SDES-SRTP (RFC 4568) toward SIP peers. off: plain RTP; an RTP/SAVP offer gets 488. "
	  "optional: our offers are RTP/AVP with a=crypto lines (best effort: SRTP when the "
	  "peer answers with one, plain RTP otherwise), and offers with or without crypto are "
	  "taken. mandatory: our offers are RTP/SAVP; a peer's offer or answer without a "
	  "crypto line we take gets 488 / ends the call. Keys are new for every call. Keys "
	  "travel in the SDP: use SIP over TLS (a warning is logged otherwise)." },
	{ "media", "sip_srtp_suites", TND_OPT_STR,
	  "AES_CM_128_HMAC_SHA1_80,AES_CM_128_HMAC_SHA1_32,AEAD_AES_128_GCM,AEAD_AES_256_GCM",
	  0, 0, NULL, OFF(media_sip_srtp_suites), tnd_conf_check_srtp_suites,
	  "SDES suites we offer (in this preference order, one a=crypto line each) and "
	  "accept when answering (the offerer's first one listed here is taken)." },
	{ "media", "opus_complexity", TND_OPT_INT, "5", 0, 10, NULL, OFF(media_opus_complexity),
	  NULL,
	  "Opus encoder complexity (0-10) of transcoded calls. At 8 kHz, 5 costs about half "
	  "of 10's encoder time (57 vs 105 us per 20 ms frame, docs/benchmarks.md) for "
	  "speech that is hard to tell apart at these bitrates; raise it when CPU is plenty." },
	{ "media", "opus_bitrate", TND_OPT_INT, "0", 0, 510000, NULL, OFF(media_opus_bitrate),
	  NULL,
	  "Opus bit/s of transcoded calls (6000-510000); 0 leaves it to libopus (about "
	  "24 kbit/s for wideband speech). Values below 6000 count as 6000." },
	{ "media", "opus_fec", TND_OPT_BOOL, "true", 0, 0, NULL, OFF(media_opus_fec), NULL,
	  "Opus in-band FEC (RFC 7587 useinbandfec) toward browsers that ask for it: a lost "
	  "packet is rebuilt from the next one, at some bitrate cost." },
	{ "media", "opus_dtx", TND_OPT_BOOL, "false", 0, 0, NULL, OFF(media_opus_dtx), NULL,
	  "Opus DTX toward browsers: silence is sent as rare small packets." },
	{ "media", "hold_music", TND_OPT_STR, "", 0, 0, NULL, OFF(media_hold_music),
	  tnd_conf_check_readable,
	  "WAV file (16-bit PCM, mono or stereo, 8-48 kHz, 0.1 to 600 s) the held party "
	  "hears, looped: the SIP peer while the browser holds, the browser while the SIP "
	  "peer holds (unless that peer sends media of its own, which is relayed instead). "
	  "It is encoded in each leg's codec. Empty: silence. Read and checked at start-up "
	  "(a bad file stops it, and --check-config reports it); a reload keeps the file "
	  "read then." },
	{ "media", "max_calls", TND_OPT_INT, "1000", 1, 100000, NULL, OFF(max_calls), NULL,
	  "Calls at once; further calls get 503 (JSON-RPC) or 503 Service Unavailable "
	  "(SIP)." },

	{ "calls", "allow", TND_OPT_STR, "*", 0, 0, NULL, OFF(calls_allow), tnd_conf_check_patterns,
	  "Who browsers may call: comma-separated glob patterns matched against the whole "
	  "`to` URI, e.g. \"sip:*@pbx.example, tel:+4930*\". * and ? never match @ ; ? : "
	  "< > \" or space, so a host cannot be smuggled in (write sip:*@pbx.example:* to "
	  "allow any port); * alone allows everything. A call to anything else gets 403. "
	  "Empty allows nothing. Reloaded on SIGHUP." },
	{ "calls", "ring_timeout", TND_OPT_INT, "60", 1, 3600, NULL, OFF(calls_ring_timeout),
	  NULL,
	  "Seconds a call from SIP may ring unanswered: then the caller gets 480 and the "
	  "browsers `ended` 480 \"no answer\"." },
	{ "calls", "test_destinations", TND_OPT_ENUM, "auto", 0, 0, test_dest_modes,
	  OFF(calls_test_destinations), NULL,
	  "Built-in destinations for trying the gateway out: `echo` (your own audio back "
	  "after 200 ms), `tone` (1 kHz for 5 s, then ring-back) and `dtmf` (the digits "
	  "you send read back as tones and RFC 4733), also as sip:echo@tandem.invalid, "
	  "sip:tone@tandem.invalid and sip:dtmf@tandem.invalid; they take no SIP and no "
	  "dial-plan entry. auto: on while [websocket] listen and [sip] listen are both "
	  "loopback addresses." },
	{ "calls", "max_ringing", TND_OPT_INT, "100", 1, 100000, NULL, OFF(calls_max_ringing),
	  NULL,
	  "Calls from SIP ringing unanswered at once, for all users together; more get 503 "
	  "at once, before any media port is taken." },
	{ "calls", "max_ringing_per_user", TND_OPT_INT, "4", 1, 1000, NULL,
	  OFF(calls_max_ringing_user), NULL,
	  "Calls from SIP ringing unanswered at once for one user; more get 486 Busy Here "
	  "at once." },
	{ "calls", "max_per_connection", TND_OPT_INT, "8", 1, 10000, NULL, OFF(calls_max_conn),
	  NULL,
	  "Calls one WebSocket may have placed and not yet ended; a further `call` gets "
	  "429." },
	{ "calls", "max_per_user", TND_OPT_INT, "16", 1, 100000, NULL, OFF(calls_max_user),
	  NULL,
	  "Calls one user may have placed and not yet ended, over all their WebSockets; a "
	  "further `call` gets 429." },
	{ "calls", "rate", TND_OPT_INT, "4", 1, 10000, NULL, OFF(calls_rate), NULL,
	  "`call` attempts per second one user (or, without a login, one WebSocket) may "
	  "make on average; beyond it and `burst`, `call` gets 429." },
	{ "calls", "burst", TND_OPT_INT, "8", 1, 10000, NULL, OFF(calls_burst), NULL,
	  "`call` attempts one user may make at once beyond `rate` (a token bucket of this "
	  "size, refilled at `rate` per second)." },
	{ "calls", "drain_timeout", TND_OPT_INT, "300", 1, 86400, NULL, OFF(calls_drain_timeout),
	  NULL, "Seconds a drain (SIGUSR1) waits for the calls up to end by themselves; then "
	  "they are ended as on SIGTERM. Either way the gateway then exits 0." },
	{ "calls", "linger", TND_OPT_INT, "32", 1, 300, NULL, OFF(calls_linger), NULL,
	  "Seconds the SIP side of an ended call may take to finish (the answer to our "
	  "CANCEL or BYE) before the gateway forgets the dialog. The browser is told "
	  "`ended` at once either way." },
	{ "calls", "reattach_grace", TND_OPT_INT, "30", 0, 3600, NULL,
	  OFF(calls_reattach_grace), NULL,
	  "Seconds a user's calls outlive their WebSocket (dropped, closed, page reloaded): "
	  "the SIP side hears nothing, and a new WebSocket of the same user may `reattach` "
	  "them. Then the call ends (BYE, or CANCEL before the answer) with the reason "
	  "\"browser gone for N s\". 0: closing the WebSocket ends its calls at once." },

	{ "cdr", "file", TND_OPT_STR, "", 0, 0, NULL, OFF(cdr_file), NULL,
	  "File that gets one JSON line per call when it ends (docs/operations.md), opened "
	  "for appending, and reopened on SIGHUP for rotation. Empty: no CDR file." },
	{ "cdr", "syslog", TND_OPT_BOOL, "false", 0, 0, NULL, OFF(cdr_syslog), NULL,
	  "Also send each CDR line to syslog (ident tandem-cdr, facility user, level info)." },
	{ "cdr", "queue", TND_OPT_INT, "10000", 100, 1000000, NULL, OFF(cdr_queue), NULL,
	  "CDR lines that may wait for the writer thread (a slow disk); past it new lines "
	  "are dropped, counted and logged as errors." },

	{ "events", "webhook", TND_OPT_STR, "", 0, 0, NULL, OFF(events_webhook),
	  tnd_conf_check_http_url,
	  "http://host[:port]/path that gets each call event as a JSON POST, in order "
	  "(docs/operations.md). Empty: no webhook. Reloaded on SIGHUP." },
	{ "events", "queue", TND_OPT_INT, "1000", 10, 1000000, NULL, OFF(events_queue), NULL,
	  "Events that may wait for the webhook; when full the oldest is dropped and "
	  "counted, so a slow or dead receiver never holds calls up." },
	{ "events", "timeout", TND_OPT_INT, "5", 1, 60, NULL, OFF(events_timeout), NULL,
	  "Seconds one POST may take (connect, send, status line) before it counts as "
	  "failed." },
	{ "events", "retries", TND_OPT_INT, "5", 0, 100, NULL, OFF(events_retries), NULL,
	  "Attempts after a failed POST (after 0.25 s, then doubling up to 10 s) before the "
	  "event is dropped and counted; later events wait their turn." },
	{ "calls", "dtmf_mode", TND_OPT_ENUM, "auto", 0, 0, dtmf_modes, OFF(calls_dtmf_mode), NULL,
	  "How digits (the `dtmf` request, the browser's RFC 4733 events) reach the SIP "
	  "side. rfc4733: telephone-event packets; info: SIP INFO; inband: tones in the "
	  "G.711 audio; auto: rfc4733 when the SIP peer negotiated telephone-event, else "
	  "inband. Digits from the SIP side are taken every way whatever this says." },
	{ "calls", "dtmf_info", TND_OPT_ENUM, "dtmf-relay", 0, 0, dtmf_infos,
	  OFF(calls_dtmf_info), NULL,
	  "Body of the SIP INFOs sent with dtmf_mode = info: dtmf-relay "
	  "(application/dtmf-relay, Signal= and Duration=) or dtmf (application/dtmf, "
	  "the digit alone). Both are taken when received." },
};

static int add_user(void *data, const char *key, const char *value, char *err, size_t errlen)
{
	struct tnd_conf *conf = data;
	struct tnd_conf_user *u;
	int e;

	e = tnd_policy_user_name_check(key);
	if (e) {
		snprintf(err, errlen, "user names are 1 to 64 letters, digits, or . _ - +");
		return EINVAL;
	}
	e = tnd_passwd_check_format(value);
	if (e) {
		snprintf(err, errlen, "not a password hash; make one with "
			 "`tandem --hash-password` (pbkdf2-sha256$ITERATIONS$SALT$HASH)");
		return EINVAL;
	}
	if (conf->n_users == CONF_MAX_USERS) {
		snprintf(err, errlen, "more than %d users", CONF_MAX_USERS);
		return EINVAL;
	}
	u = realloc(conf->users, (conf->n_users + 1) * sizeof(*u));
	if (!u)
		return ENOMEM;
	conf->users = u;
	u = &conf->users[conf->n_users];
	u->name = strdup(key);
	u->hash = strdup(value);
	if (!u->name || !u->hash) {
		free(u->name);
		free(u->hash);
		return ENOMEM;
	}
	conf->n_users++;
	return 0;
}

/* ------------------------------------------------------------ [accounts] */

static struct tnd_conf_account *account_get(struct tnd_conf *conf, const char *name)
{
	struct tnd_conf_account *a;

	for (size_t i = 0; i < conf->n_accounts; i++)
		if (!strcmp(conf->accounts[i].name, name))
			return &conf->accounts[i];
	if (conf->n_accounts == CONF_MAX_USERS)
		return NULL;
	a = realloc(conf->accounts, (conf->n_accounts + 1) * sizeof(*a));
	if (!a)
		return NULL;
	conf->accounts = a;
	a = &conf->accounts[conf->n_accounts];
	memset(a, 0, sizeof(*a));
	a->expires = 3600;
	a->name = strdup(name);
	a->uri = strdup("");
	a->auth_user = strdup("");
	a->password = strdup("");
	a->ha1 = strdup("");
	a->registrar = strdup("");
	a->proxy = strdup("");
	a->transport = strdup("");
	a->users = strdup("");
	conf->n_accounts++;
	return a;
}

static void account_free(struct tnd_conf_account *a)
{
	free(a->name);
	free(a->uri);
	free(a->auth_user);
	if (a->password)
		explicit_bzero(a->password, strlen(a->password));
	free(a->password);
	free(a->ha1);
	free(a->registrar);
	free(a->proxy);
	free(a->transport);
	free(a->users);
}

static int account_value(const char *field, const char *v, char *err, size_t errlen)
{
	if (strpbrk(v, "\r\n") || strlen(v) > 512) {
		snprintf(err, errlen, "value too long or not one line");
		return EINVAL;
	}
	if (!strcmp(field, "uri") && (strncmp(v, "sip:", 4) || !strchr(v, '@')) &&
	    (strncmp(v, "sips:", 5) || !strchr(v, '@'))) {
		snprintf(err, errlen, "'%s' is not a sip:user@domain URI", v);
		return EINVAL;
	}
	if (!strcmp(field, "registrar") || !strcmp(field, "proxy"))
		return tnd_conf_check_sip_uri(v, err, errlen);
	if (!strcmp(field, "transport") && *v && strcmp(v, "udp") && strcmp(v, "tcp") &&
	    strcmp(v, "tls")) {
		snprintf(err, errlen, "transport is udp, tcp or tls");
		return EINVAL;
	}
	if (!strcmp(field, "auth_user") && strchr(v, ':')) {
		snprintf(err, errlen, "auth_user may not hold ':'");
		return EINVAL;
	}
	if (!strcmp(field, "ha1") && *v && (strlen(v) != 32 ||
					    strspn(v, "0123456789abcdefABCDEF") != 32)) {
		snprintf(err, errlen, "ha1 is 32 hex digits: MD5(auth_user:realm:password)");
		return EINVAL;
	}
	return 0;
}

static int add_account(void *data, const char *key, const char *value, char *err,
		       size_t errlen)
{
	static const char *const fields[] = { "uri", "auth_user", "password", "ha1",
		"registrar", "proxy", "transport", "users", "expires", NULL };
	struct tnd_conf *conf = data;
	struct tnd_conf_account *a;
	const char *dot = strrchr(key, '.');
	char name[65], **slot = NULL, *copy;
	size_t i;

	if (!dot || dot == key || (size_t)(dot - key) >= sizeof(name)) {
		snprintf(err, errlen, "keys are NAME.field (uri, auth_user, password, ha1, "
			 "registrar, proxy, transport, expires, users)");
		return EINVAL;
	}
	for (i = 0; fields[i] && strcmp(fields[i], dot + 1); i++)
		;
	if (!fields[i]) {
		snprintf(err, errlen, "unknown account field '%s'", dot + 1);
		return EINVAL;
	}
	if (account_value(dot + 1, value, err, errlen))
		return EINVAL;
	snprintf(name, sizeof(name), "%.*s", (int)(dot - key), key);
	a = account_get(conf, name);
	if (!a || !a->name || !a->uri || !a->auth_user || !a->password || !a->ha1 ||
	    !a->registrar || !a->proxy || !a->transport || !a->users)
		return ENOMEM;
	if (!strcmp(dot + 1, "expires")) {
		char *end;
		long n = strtol(value, &end, 10);

		if (!*value || *end || n < 10 || n > 86400) {
			snprintf(err, errlen, "expires is 10..86400 seconds");
			return EINVAL;
		}
		a->expires = (int)n;
		return 0;
	}
	slot = i == 0 ? &a->uri : i == 1 ? &a->auth_user : i == 2 ? &a->password :
	       i == 3 ? &a->ha1 : i == 4 ? &a->registrar : i == 5 ? &a->proxy :
	       i == 6 ? &a->transport : &a->users;
	copy = strdup(value);
	if (!copy)
		return ENOMEM;
	free(*slot);
	*slot = copy;
	return 0;
}

/* An account needs its uri, at most one secret, and users. */
static const char *account_check(const struct tnd_conf_account *a)
{
	if (!*a->uri)
		return "uri";
	if (*a->password && *a->ha1)
		return "password";
	if (!*a->users)
		return "users";
	return NULL;
}

const struct tnd_conf_account *tnd_conf_account_find(const struct tnd_conf *conf,
						     const char *name)
{
	for (size_t i = 0; conf && name && i < conf->n_accounts; i++)
		if (!strcmp(conf->accounts[i].name, name))
			return &conf->accounts[i];
	return NULL;
}

bool tnd_conf_account_allows(const struct tnd_conf_account *acc, const char *user)
{
	char **parts;
	bool ok = false;

	if (!acc || !user)
		return false;
	parts = g_strsplit(acc->users, ",", 0);
	for (char **p = parts; *p && !ok; p++) {
		const char *s = g_strstrip(*p);

		ok = !strcmp(s, "*") || !strcmp(s, user);
	}
	g_strfreev(parts);
	return ok;
}

/* ------------------------------------------------------------ [trunks], [dialplan] */

static int add_trunk(void *data, const char *key, const char *value, char *err, size_t errlen)
{
	return tnd_dialplan_add_trunk(&((struct tnd_conf *)data)->dialplan, key, value, err,
				      errlen);
}

static int add_rule(void *data, const char *key, const char *value, char *err, size_t errlen)
{
	return tnd_dialplan_add_rule(&((struct tnd_conf *)data)->dialplan, key, value, err,
				     errlen);
}

static const struct tnd_opt_map maps[] = {
	{ "users", add_user,
	  "One line per user who may log in when [auth] mode = users: NAME = password hash "
	  "from `tandem --hash-password`. A user NAME logged in is reachable from SIP as "
	  "sip:NAME@gateway. Reloaded on SIGHUP.",
	  "# alice = pbkdf2-sha256$200000$...$...\n" },
	{ "accounts", add_account,
	  "SIP accounts browsers may `register` and `call` with, as NAME.field lines: uri "
	  "(sip:user@domain, required), auth_user (default: the uri's user), password or "
	  "ha1 (MD5 digest only), registrar (default: the uri's domain), proxy, transport "
	  "(udp, tcp or tls), expires (seconds, default 3600), users (comma-separated names who "
	  "may use it, or *; required). Reloaded on SIGHUP for new registrations.",
	  "# desk1.uri = sip:1001@pbx.example\n# desk1.password = secret\n"
	  "# desk1.users = alice, bob\n" },
	{ "trunks", add_trunk,
	  "SIP trunks (PSTN carriers, PBXes) as NAME.field lines: address (sip:host[:port] "
	  "of the next hop, required; browsers reach it only through [dialplan]: a sip: URI "
	  "at this address, or at a from IP on its port, gets 403), transport (udp, tcp or "
	  "tls), auth_user and password (digest answer to a 401/407 of the trunk), codecs "
	  "(comma-separated preference that replaces [media] sip_codecs for calls through "
	  "it and calls in from it), srtp (off, optional or mandatory: SDES-SRTP with the "
	  "trunk both ways, in place of [media] sip_srtp), from (addresses and CIDR prefixes the "
	  "trunk sends from: trusted for INVITEs, which then reach only its DIDs; with "
	  "trunks and an empty [sip] trusted, only these sources are trusted), did "
	  "(NUMBER=USER_OR_ACCOUNT, comma-separated: who an INVITE from the trunk to NUMBER "
	  "rings; any other number gets 404), options_ping (seconds between OPTIONS pings, "
	  "0 off: no answer, 408 or 5xx to two in a row marks the trunk down, and calls skip "
	  "it), register (true: keep a registration at the trunk as sip:auth_user@host, "
	  "refreshed and retried with back-off, removed at shutdown; an INVITE from the "
	  "registrar to the registered Contact reaches the trunk's DIDs), registrar "
	  "(sip:host[:port] to register at; default address), expires (seconds asked "
	  "for, 10-86400, default 3600).",
	  "# carrier.address = sip:sbc.carrier.example:5060\n"
	  "# carrier.from = 192.0.2.0/24\n# carrier.did = +442071234567=alice\n"
	  "# carrier.options_ping = 30\n" },
	{ "dialplan", add_rule,
	  "Rules that route a `call` to a dial string or tel: URI (not a sip: URI) to a "
	  "trunk, tried in file order: NAME = MATCH -> TRUNK[,TRUNK...] [strip=N] "
	  "[prepend=DIGITS] [users=a|b]. MATCH is a prefix of digits (+ * # too), any, or "
	  "~REGEX (PCRE, on the number without separators). The number loses N leading "
	  "digits, then gets DIGITS in front (E.164: 0 -> +44 is strip=1 prepend=+44) and "
	  "is sent as sip:NUMBER@trunk. users= limits a rule to those users; a number no "
	  "rule lets the user call gets 403. Trunks are tried in order while down, then "
	  "the next matching rule; none up gives 503. Reloaded on SIGHUP.",
	  "# uk = 0 -> carrier strip=1 prepend=+44\n# intl = + -> carrier users=alice|bob\n" },
};

static const struct tnd_opt_table table = {
	opts, sizeof(opts) / sizeof(opts[0]), maps, sizeof(maps) / sizeof(maps[0]),
};

void tnd_conf_print_help(FILE *out)
{
	tnd_opt_print_help(&table, out);
}

void tnd_conf_print_example(FILE *out)
{
	tnd_opt_print_example(&table, out);
}

/* tandem.conf(5), generated like the example file (docs/tandem.conf.5). */
void tnd_conf_print_man(FILE *out, const char *version)
{
	fprintf(out,
		".\\\" Generated by `tandem --print-man tandem.conf`; do not edit by hand.\n"
		".TH TANDEM.CONF 5 \"\" \"Tandem %s\" \"File Formats\"\n"
		".SH NAME\n"
		"tandem.conf \\- configuration of the Tandem SIP-to-WebRTC gateway\n"
		".SH SYNOPSIS\n"
		".B /etc/tandem/tandem.conf\n"
		".SH DESCRIPTION\n"
		"The file is INI: \\fB[section]\\fR headers and \\fIkey\\fR = \\fIvalue\\fR "
		"lines. Lines starting with # or ; are comments. Every key is optional and "
		"takes its default when absent; an unknown section or key, or a value out of "
		"range, is an error that names the file and line, and the gateway does not "
		"start.\n"
		".PP\n"
		".B tandem \\-\\-check\\-config \\-\\-config\n"
		".I FILE\n"
		"validates a file without starting. On SIGHUP the gateway reads the file "
		"again; a file that does not validate is logged and the running configuration "
		"stays.\n"
		".PP\n"
		".B tandem \\-\\-print\\-example\\-config\n"
		"prints every key with its default, as installed in\n"
		".IR tandem.conf.example .\n"
		".SH OPTIONS\n"
		"Each key with its type, range, default and meaning, by section.\n", version);
	tnd_opt_print_man(&table, out);
	fprintf(out,
		".SH FILES\n"
		".TP\n.I /etc/tandem/tandem.conf\n"
		"the configuration the systemd unit starts the gateway with\n"
		".TP\n.I /etc/tandem/tandem.conf.example\n"
		"every key with its default and help, refreshed by each install; an install never "
		"writes tandem.conf itself\n"
		".SH SEE ALSO\n"
		".BR tandem (8)\n");
}

void tnd_conf_free(struct tnd_conf *conf)
{
	if (!conf)
		return;
	tnd_opt_release(&table, conf);
	for (size_t i = 0; i < conf->n_users; i++) {
		free(conf->users[i].name);
		/* the hash is a secret of sorts: do not leave it in freed memory */
		explicit_bzero(conf->users[i].hash, strlen(conf->users[i].hash));
		free(conf->users[i].hash);
	}
	free(conf->users);
	for (size_t i = 0; i < conf->n_accounts; i++)
		account_free(&conf->accounts[i]);
	free(conf->accounts);
	tnd_dialplan_free(conf->dialplan);
	free(conf->source);
	free(conf);
}

const struct tnd_conf_user *tnd_conf_user_find(const struct tnd_conf *conf, const char *name)
{
	for (size_t i = 0; conf && name && i < conf->n_users; i++)
		if (!strcmp(conf->users[i].name, name))
			return &conf->users[i];
	return NULL;
}

static unsigned line_of(const struct tnd_ini *ini, const char *section, const char *key)
{
	for (size_t i = 0; ini && i < ini->count; i++)
		if (!strcmp(ini->entries[i].section, section) && !strcmp(ini->entries[i].key, key))
			return ini->entries[i].line;
	return 0;
}

static int is_loopback(const char *addr)
{
	return !strncmp(addr, "127.", 4) || !strcmp(addr, "::1");
}

bool tnd_conf_test_destinations(const struct tnd_conf *c)
{
	if (c->calls_test_destinations == TND_TESTDEST_AUTO)
		return is_loopback(c->ws_listen) && is_loopback(c->sip_listen);
	return c->calls_test_destinations == TND_TESTDEST_ON;
}

/* Rules that tie keys together, checked after every key parsed alone. */
static int cross_check(const struct tnd_conf *c, const struct tnd_ini *ini, const char *name,
		       char *err, size_t errlen)
{
	const char *section = NULL, *key = NULL, *why = NULL;

	if (!*c->ws_cert != !*c->ws_key) {
		section = "websocket";
		key = *c->ws_cert ? "cert" : "key";
		why = "cert and key must be set together";
	} else if (c->auth_mode == TND_AUTH_NONE && !is_loopback(c->ws_listen)) {
		section = "auth";
		key = "mode";
		why = "mode = none lets anyone reach the SIP side: it is allowed only while "
		      "[websocket] listen is a loopback address";
	} else if (c->auth_mode == TND_AUTH_USERS && c->n_users == 0) {
		section = "auth";
		key = "mode";
		why = "mode = users needs at least one user in [users]";
	} else if (c->media_port_min >= c->media_port_max) {
		section = "media";
		key = "port_min";
		why = "port_min must be below port_max";
	} else if (c->media_turn_only && !*c->media_turn_server) {
		section = "media";
		key = "turn_only";
		why = "turn_only needs turn_server";
	} else if (*c->media_turn_server && !*c->media_turn_user) {
		section = "media";
		key = "turn_user";
		why = "a TURN server needs turn_user and turn_password";
	} else if (!c->sip_udp && !c->sip_tcp) {
		section = "sip";
		key = "udp";
		why = "enable at least one of udp and tcp";
	} else if (*c->sip_inbound_user && !*c->sip_inbound_password) {
		section = "sip";
		key = "inbound_password";
		why = "inbound_user needs inbound_password";
	} else if (c->sip_tls && (!*c->sip_tls_cert || !*c->sip_tls_key)) {
		section = "sip";
		key = *c->sip_tls_cert ? "tls_key" : "tls_cert";
		why = "tls needs tls_cert and tls_key";
	} else if (c->sip_tls && c->sip_tls_port == c->sip_port) {
		section = "sip";
		key = "tls_port";
		why = "tls_port must differ from port";
	}
	for (size_t i = 0; !why && i < c->n_accounts; i++) {
		static char k[96];

		key = account_check(&c->accounts[i]);
		if (key) {
			/* the message names NAME.field: static buffer, one thread */
			snprintf(k, sizeof(k), "%s.%s", c->accounts[i].name, key);
			section = "accounts";
			why = !strcmp(key, "password") ? "give password or ha1, not both" :
			      !strcmp(key, "uri") ? "an account needs uri" :
			      "an account needs users (who may use it, or *)";
			key = k;
		}
	}
	if (!why)
		return 0;
	if (line_of(ini, section, key))
		snprintf(err, errlen, "%s:%u: [%s] %s: %s", name, line_of(ini, section, key),
			 section, key, why);
	else
		snprintf(err, errlen, "%s: [%s] %s (default): %s", name, section, key, why);
	return EINVAL;
}

/* Entries of [sip] trusted and every trunk's from together. */
static unsigned trusted_count(const struct tnd_conf *c)
{
	char *trunks = tnd_dialplan_sources(c->dialplan);
	gchar *all = g_strconcat(c->sip_trusted, ",", trunks ? trunks : "", NULL);
	char **parts = g_strsplit(all, ",", 0);
	unsigned n = 0;

	for (char **p = parts; *p; p++)
		n += *g_strstrip(*p) != '\0';
	g_strfreev(parts);
	g_free(all);
	g_free(trunks);
	return n;
}

int tnd_conf_load_text(struct tnd_conf **confp, const char *name, const char *text, size_t len,
		       char *err, size_t errlen)
{
	struct tnd_ini *ini = NULL;
	struct tnd_conf *conf;
	char why[512];
	int e;

	if (!confp || !name || (!text && len) || !err || !errlen)
		return EINVAL;
	err[0] = '\0';
	conf = calloc(1, sizeof(*conf));
	if (!conf)
		return ENOMEM;
	conf->source = strdup(name);
	e = conf->source ? tnd_opt_defaults(&table, conf) : ENOMEM;
	if (e)
		goto out;
	if (text) {
		e = tnd_ini_parse(&ini, text, len, why, sizeof(why));
		if (e == EBADMSG) {
			snprintf(err, errlen, "%s:%s", name, why + strlen("line "));
			e = EINVAL;
		}
		if (e)
			goto out;
		e = tnd_opt_apply(&table, conf, ini, name, err, errlen);
		if (e)
			goto out;
	}
	e = cross_check(conf, ini, name, err, errlen);
	if (!e && tnd_dialplan_check(conf->dialplan, why, sizeof(why))) {
		snprintf(err, errlen, "%s: %s", name, why);
		e = EINVAL;
	}
	if (!e && trusted_count(conf) > 64) {
		/* the SIP guard takes 64 prefixes in all (sip/guard.c) */
		snprintf(err, errlen, "%s: [trunks] from: with [sip] trusted, at most 64 "
			 "addresses or prefixes in all", name);
		e = EINVAL;
	}
 out:
	tnd_ini_free(ini);
	if (e)
		tnd_conf_free(conf);
	else
		*confp = conf;
	return e;
}

int tnd_conf_load(struct tnd_conf **confp, const char *path, char *err, size_t errlen)
{
	GError *gerr = NULL;
	gchar *text;
	gsize len;
	int e;

	if (!path)
		return tnd_conf_load_text(confp, "(embedded default)", NULL, 0, err, errlen);
	if (!g_file_get_contents(path, &text, &len, &gerr)) {
		snprintf(err, errlen, "%s: %s", path, gerr->message);
		g_error_free(gerr);
		return ENOENT;
	}
	if (len > 1024 * 1024) {
		snprintf(err, errlen, "%s: larger than 1 MiB", path);
		g_free(text);
		return EINVAL;
	}
	e = tnd_conf_load_text(confp, path, text, len, err, errlen);
	g_free(text);
	return e;
}
