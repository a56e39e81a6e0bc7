/* sip-drive: one Tandem SIP user agent (sip/) on the command line, for
 * test_sip_calls.py. It places or takes calls as its flags say and prints
 * every event as one line of JSON on stdout; logs go to stderr.
 *
 *   sip-drive --port P [--proxy URI] [--public-host H] [--timeout MS]
 *             [--media-port P] [--log LEVELS] MODE
 *   MODE call URI [--from U] [--display D] [--header "X-A: v"]...
 *             [--hangup-after MS] [--cancel-on-ring] [--cancel-after MS]
 *             [--detach-on-answer]
 *             [--shutdown-on-answer]
 *   MODE answer [--calls N] [--ring] [--ring-sdp] [--ring-only] [--reject STATUS]
 *             [--refuse ENOENT|EAGAIN|EBUSY] [--no-handler] [--hangup-after MS]
 *             [--bye-before-ack]
 *   MODE check URI [call flags]: only tnd_sipcall_invite()'s result
 *
 * It ends after its calls end (or on SIGTERM: tnd_sipua_shutdown), then
 * prints {"event":"exit","live_objs":N,"calls":N} with the tnd_obj count
 * after everything is freed: 0 means no call leaked. Exit status 0, 1 on
 * an error, 2 usage, 3 timeout. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib-unix.h>

#include "gateway/base/log.h"
#include "gateway/base/loop.h"
#include "gateway/base/obj.h"
#include "sip/sip.h"

#define MAX_HDRS 20

struct drive {
	struct tnd_loop *loop;
	struct tnd_sipua *ua;
	struct tnd_sipcall *call;       /* ref: the current call */
	const char *mode;
	const char *uri;
	const char *from, *display;
	const char *proxy, *public_host;
	struct tnd_sip_header hdrs[MAX_HDRS];
	char *hdr_buf[MAX_HDRS];
	size_t n_hdrs;
	int hangup_after;               /* ms after answer/ACK, -1 = never */
	int cancel_after;               /* ms after INVITE, -1 = never */
	bool cancel_on_ring, detach_on_answer, shutdown_on_answer;
	int calls_wanted, calls_done;
	bool ring, ring_sdp, ring_only, no_handler, bye_before_ack;
	int reject;
	int refuse;
	int rc;
	bool stopping;
	guint hangup_timer;
};

/* %d: the media port, where the test keeps a socket that swallows RTP */
static const char sdp_fmt[] =
	"v=0\r\no=- %d 1 IN IP4 127.0.0.1\r\ns=sip-drive\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
	"m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n";
static char sdp_offer[256], sdp_answer[256];

static void json_str(const char *s)
{
	if (!s) {
		fputs("null", stdout);
		return;
	}
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void emit(const char *event, int status, const char *phrase, const char *sdp,
		 const char *why)
{
	printf("{\"event\":\"%s\"", event);
	if (status)
		printf(",\"status\":%d", status);
	if (phrase) {
		fputs(",\"phrase\":", stdout);
		json_str(phrase);
	}
	if (sdp) {
		fputs(",\"sdp\":", stdout);
		json_str(sdp);
	}
	if (why) {
		fputs(",\"why\":", stdout);
		json_str(why);
	}
	fputs("}\n", stdout);
	fflush(stdout);
}

static void ua_done(void *arg)
{
	struct drive *d = arg;

	tnd_loop_quit(d->loop);
}

static void stop(struct drive *d)
{
	if (d->stopping)
		return;
	d->stopping = true;
	tnd_sipua_shutdown(d->ua, ua_done, d);
}

static gboolean on_term(gpointer data)
{
	stop(data);
	return G_SOURCE_CONTINUE;
}

static gboolean on_timeout(gpointer data)
{
	struct drive *d = data;

	emit("timeout", 0, NULL, NULL, NULL);
	d->rc = 3;
	stop(d);
	return G_SOURCE_REMOVE;
}

static gboolean do_hangup(gpointer data)
{
	struct drive *d = data;
	int err;

	d->hangup_timer = 0;
	err = d->call ? tnd_sipcall_hangup(d->call) : EINVAL;
	printf("{\"event\":\"hangup\",\"err\":%d}\n", err);
	fflush(stdout);
	return G_SOURCE_REMOVE;
}

static void arm_hangup(struct drive *d)
{
	if (d->hangup_after >= 0 && !d->hangup_timer)
		d->hangup_timer = g_timeout_add(d->hangup_after, do_hangup, d);
}

/* ------------------------------------------------------------ call events */

static void on_progress(void *arg, struct tnd_sipcall *call, int status, const char *phrase,
			const char *sdp)
{
	struct drive *d = arg;

	(void)call;
	emit("progress", status, phrase, sdp, NULL);
	if (d->cancel_on_ring && status > 100) {
		int err = tnd_sipcall_hangup(d->call);

		printf("{\"event\":\"hangup\",\"err\":%d}\n", err);
		fflush(stdout);
	}
}

static void on_answered(void *arg, struct tnd_sipcall *call, int status, const char *phrase,
			const char *sdp)
{
	struct drive *d = arg;

	(void)call;
	emit("answered", status, phrase, sdp, NULL);
	if (d->detach_on_answer) {
		/* the owner walks away: BYE goes out, no callback comes back */
		tnd_sipcall_detach(d->call);
		d->call = tnd_obj_put(d->call);
		emit("detached", 0, NULL, NULL, NULL);
		stop(d);
	} else if (d->shutdown_on_answer) {
		stop(d);
	} else {
		arm_hangup(d);
	}
}

static void on_ack(void *arg, struct tnd_sipcall *call)
{
	struct drive *d = arg;

	(void)call;
	emit("ack", 0, NULL, NULL, NULL);
	arm_hangup(d);
}

static void on_ended(void *arg, struct tnd_sipcall *call, int status, const char *phrase,
		     enum tnd_sipcall_end why)
{
	struct drive *d = arg;

	printf("{\"event\":\"ended\",\"status\":%d,\"phrase\":", status);
	json_str(phrase);
	printf(",\"why\":\"%s\",\"outgoing\":%s,\"calls\":%u}\n", tnd_sipcall_end_name(why),
	       tnd_sipcall_is_outgoing(call) ? "true" : "false", tnd_sipua_calls(d->ua));
	fflush(stdout);
	if (d->hangup_timer) {
		g_source_remove(d->hangup_timer);
		d->hangup_timer = 0;
	}
	/* the owner's reference may go inside ended: the UA holds its own */
	tnd_sipcall_detach(call);
	if (call == d->call)
		d->call = tnd_obj_put(d->call);
	if (++d->calls_done >= d->calls_wanted)
		stop(d);
}

static const struct tnd_sipcall_handlers handlers = {
	.progress = on_progress,
	.answered = on_answered,
	.ack = on_ack,
	.ended = on_ended,
};

static int on_incoming(void *arg, struct tnd_sipcall *call, const struct tnd_sipcall_info *info)
{
	struct drive *d = arg;
	size_t i;
	int err;

	printf("{\"event\":\"incoming\",\"call_id\":");
	json_str(tnd_sipcall_id(call));
	printf(",\"ruri_user\":");
	json_str(info->ruri_user);
	printf(",\"from\":");
	json_str(info->from_uri);
	printf(",\"display\":");
	json_str(info->from_display);
	printf(",\"to\":");
	json_str(info->to_uri);
	printf(",\"sdp\":");
	json_str(info->sdp);
	printf(",\"headers\":[");
	for (i = 0; i < info->n_headers; i++) {
		printf("%s[", i ? "," : "");
		json_str(info->headers[i].name);
		putchar(',');
		json_str(info->headers[i].value);
		putchar(']');
	}
	printf("],\"calls\":%u}\n", tnd_sipua_calls(d->ua));
	fflush(stdout);
	if (d->refuse)
		return d->refuse;
	if (d->call) {
		/* one call at a time */
		return EBUSY;
	}
	err = tnd_sipcall_set_handlers(call, &handlers, d);
	if (err)
		return err;
	d->call = tnd_obj_get(call);
	if (d->ring || d->ring_sdp) {
		err = tnd_sipcall_ringing(call, d->ring_sdp ? sdp_answer : NULL);
		printf("{\"event\":\"ringing\",\"err\":%d}\n", err);
	}
	if (d->ring_only) {
		fflush(stdout);
		return 0;
	}
	if (d->reject)
		err = tnd_sipcall_reject(call, d->reject, NULL);
	else
		err = tnd_sipcall_answer(call, sdp_answer);
	printf("{\"event\":\"%s\",\"err\":%d}\n", d->reject ? "reject" : "answer", err);
	if (d->bye_before_ack)
		d->hangup_timer = g_timeout_add(50, do_hangup, d);
	/* both again: a second answer is refused */
	printf("{\"event\":\"answer-again\",\"err\":%d}\n", tnd_sipcall_answer(call, sdp_answer));
	fflush(stdout);
	return 0;
}

/* ------------------------------------------------------------ modes */

static int place_call(struct drive *d)
{
	struct tnd_sipcall_params p = {
		.to = d->uri, .from_user = d->from, .from_display = d->display,
		.sdp = sdp_offer, .headers = d->hdrs, .n_headers = d->n_hdrs,
	};
	int err = tnd_sipcall_invite(&d->call, d->ua, &p, &handlers, d);

	printf("{\"event\":\"invite\",\"err\":%d,\"errname\":\"%s\",\"call_id\":", err,
	       err == EINVAL ? "EINVAL" : err ? strerror(err) : "");
	json_str(err ? NULL : tnd_sipcall_id(d->call));
	printf(",\"calls\":%u}\n", tnd_sipua_calls(d->ua));
	fflush(stdout);
	return err;
}

static int parse_header(struct drive *d, const char *arg)
{
	const char *colon = strchr(arg, ':');
	char *buf;

	if (!colon || d->n_hdrs == MAX_HDRS)
		return EINVAL;
	buf = strdup(arg);
	if (!buf)
		return ENOMEM;
	buf[colon - arg] = '\0';
	d->hdr_buf[d->n_hdrs] = buf;
	d->hdrs[d->n_hdrs].name = buf;
	d->hdrs[d->n_hdrs].value = buf + (colon - arg) + 1 + (colon[1] == ' ');
	d->n_hdrs++;
	return 0;
}

static int errno_by_name(const char *s)
{
	if (!strcmp(s, "ENOENT"))
		return ENOENT;
	if (!strcmp(s, "EAGAIN"))
		return EAGAIN;
	if (!strcmp(s, "EBUSY"))
		return EBUSY;
	if (!strcmp(s, "EPERM"))
		return EPERM;
	return EIO;
}

/* Fills d, conf and the timeout from argv; 0 or 2 (usage). */
static int parse_args(int argc, char **argv, struct drive *d, struct tnd_sip_conf *conf,
		      int *timeout_ms, int *media_port)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "proxy", required_argument, NULL, 'P' },
		{ "public-host", required_argument, NULL, 'H' },
		{ "timeout", required_argument, NULL, 't' },
		{ "from", required_argument, NULL, 'f' },
		{ "display", required_argument, NULL, 'd' },
		{ "header", required_argument, NULL, 'x' },
		{ "hangup-after", required_argument, NULL, 'u' },
		{ "cancel-on-ring", no_argument, NULL, 'c' },
		{ "cancel-after", required_argument, NULL, 'C' },
		{ "detach-on-answer", no_argument, NULL, 'D' },
		{ "shutdown-on-answer", no_argument, NULL, 'S' },
		{ "calls", required_argument, NULL, 'n' },
		{ "ring", no_argument, NULL, 'r' },
		{ "ring-sdp", no_argument, NULL, 'R' },
		{ "ring-only", no_argument, NULL, 'o' },
		{ "reject", required_argument, NULL, 'j' },
		{ "refuse", required_argument, NULL, 'F' },
		{ "no-handler", no_argument, NULL, 'N' },
		{ "bye-before-ack", no_argument, NULL, 'B' },
		{ "log", required_argument, NULL, 'l' },
		{ "media-port", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p': conf->port = atoi(optarg); break;
		case 'P': d->proxy = optarg; break;
		case 'H': d->public_host = optarg; break;
		case 't': *timeout_ms = atoi(optarg); break;
		case 'f': d->from = optarg; break;
		case 'd': d->display = optarg; break;
		case 'x':
			if (parse_header(d, optarg))
				return 2;
			break;
		case 'u': d->hangup_after = atoi(optarg); break;
		case 'c': d->cancel_on_ring = true; break;
		case 'C': d->cancel_after = atoi(optarg); break;
		case 'D': d->detach_on_answer = true; break;
		case 'S': d->shutdown_on_answer = true; break;
		case 'n': d->calls_wanted = atoi(optarg); break;
		case 'r': d->ring = true; break;
		case 'R': d->ring_sdp = true; break;
		case 'o': d->ring = d->ring_only = true; break;
		case 'j': d->reject = atoi(optarg); break;
		case 'F': d->refuse = errno_by_name(optarg); break;
		case 'N': d->no_handler = true; break;
		case 'B': d->bye_before_ack = true; break;
		case 'm': *media_port = atoi(optarg); break;
		case 'l':
			if (tnd_log_parse_levels(optarg, false))
				return 2;
			break;
		default: return 2;
		}
	}
	if (optind >= argc || conf->port <= 0)
		return 2;
	d->mode = argv[optind++];
	if (strcmp(d->mode, "answer") && strcmp(d->mode, "call") && strcmp(d->mode, "check"))
		return 2;
	if (strcmp(d->mode, "answer")) {
		if (optind >= argc)
			return 2;
		d->uri = argv[optind++];
	}
	return 0;
}

/* Starts what the mode asks for; the loop does the rest. */
static void start(struct drive *d)
{
	if (!strcmp(d->mode, "check")) {
		place_call(d);
		if (d->call) {
			tnd_sipcall_detach(d->call);
			d->call = tnd_obj_put(d->call);
		}
		stop(d);
	} else if (!strcmp(d->mode, "call")) {
		if (place_call(d)) {
			d->rc = 1;
			stop(d);
		} else if (d->cancel_after >= 0) {
			d->hangup_timer = g_timeout_add(d->cancel_after, do_hangup, d);
		}
	} else if (!d->no_handler) {
		tnd_sipua_set_incoming(d->ua, on_incoming, d);
	}
}

int main(int argc, char **argv)
{
	struct drive d = { .from = "drive", .hangup_after = -1, .cancel_after = -1,
			   .calls_wanted = 1 };
	struct tnd_sip_conf conf = { .listen = "127.0.0.1", .udp = true, .tcp = true,
				     .user_agent = "sip-drive" };
	int err, calls, timeout_ms = 20000, media_port = 40000;
	size_t i;

	tnd_log_parse_levels("info", false);
	if (parse_args(argc, argv, &d, &conf, &timeout_ms, &media_port))
		return 2;
	snprintf(sdp_offer, sizeof(sdp_offer), sdp_fmt, 1, media_port);
	snprintf(sdp_answer, sizeof(sdp_answer), sdp_fmt, 2, media_port);

	tnd_sip_init();
	if (tnd_loop_alloc(&d.loop, "signal", 0))
		return 1;
	err = tnd_sipua_alloc(&d.ua, tnd_loop_context(d.loop), &conf);
	if (!err && (d.proxy || d.public_host))
		err = tnd_sipua_set_outbound(d.ua, d.proxy, d.public_host);
	printf("{\"event\":\"ready\",\"err\":%d,\"port\":%d}\n", err, conf.port);
	fflush(stdout);
	if (err) {
		tnd_sipua_free(d.ua);
		tnd_loop_free(d.loop);
		return 1;
	}
	g_unix_signal_add(SIGTERM, on_term, &d);
	g_unix_signal_add(SIGINT, on_term, &d);
	g_timeout_add(timeout_ms, on_timeout, &d);
	start(&d);
	tnd_loop_run(d.loop);

	if (d.call) {
		tnd_sipcall_detach(d.call);
		d.call = tnd_obj_put(d.call);
	}
	calls = (int)tnd_sipua_calls(d.ua);
	tnd_sipua_free(d.ua);
	tnd_loop_free(d.loop);
	tnd_sip_deinit();
	for (i = 0; i < d.n_hdrs; i++)
		free(d.hdr_buf[i]);
	printf("{\"event\":\"exit\",\"live_objs\":%ld,\"calls\":%d,\"rc\":%d}\n",
	       tnd_obj_live(), calls, d.rc);
	fflush(stdout);
	return d.rc;
}
