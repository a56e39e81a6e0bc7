/* The TLS identity of the SIP user agent, in the form Sofia-SIP 1.12 wants.
 *
 * Sofia's tport takes no file names for TLS: TPTAG_CERTIFICATE names a
 * directory, where it loads "agent.pem" (certificate and private key in one
 * file) and "cafile.pem" (the CAs it verifies peers against; it refuses to
 * start TLS without one). We keep the operator's separate [sip] tls_cert,
 * tls_key and tls_ca files and copy them into a private temporary
 * directory (0700, files 0600: it holds the key) made at start-up and
 * removed at shutdown. Signalling thread, start-up and shutdown only. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include <gio/gio.h>
#include <glib.h>
#include <glib/gstdio.h>

#include <sofia-sip/sip.h>
#include <sofia-sip/url.h>

#include "gateway/base/log.h"
#include "sip/sip_int.h"

/* Debian's bundle of the system's trusted CAs (ca-certificates) */
#define SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt"

/* Appends the whole of file `path` to `out`; a PEM file ends with a newline
 * so the blocks of two files do not run together. */
static int append_file(GString *out, const char *path)
{
	gchar *data = NULL;
	gsize len = 0;
	GError *ge = NULL;

	if (!g_file_get_contents(path, &data, &len, &ge)) {
		TND_LOG_ERR(TND_LOG_SIP, "SIP TLS: cannot read %s: %s", path, ge->message);
		g_error_free(ge);
		return EINVAL;
	}
	if (!g_strstr_len(data, (gssize)len, "-----BEGIN ")) {
		TND_LOG_ERR(TND_LOG_SIP, "SIP TLS: %s holds no PEM block", path);
		g_free(data);
		return EINVAL;
	}
	g_string_append_len(out, data, (gssize)len);
	if (len && data[len - 1] != '\n')
		g_string_append_c(out, '\n');
	/* the key file's copy goes too: do not leave it in freed memory */
	memset(data, 0, len);
	g_free(data);
	return 0;
}

int tnd_siptls_db(const struct tnd_sip_conf *conf, GTlsDatabase **dbp)
{
	const char *cafile = conf->tls_ca && *conf->tls_ca ? conf->tls_ca : SYSTEM_CA;
	GError *ge = NULL;
	GTlsDatabase *db = g_tls_file_database_new(cafile, &ge);

	if (!db) {
		TND_LOG_ERR(TND_LOG_SIP, "SIP TLS: CA file %s: %s", cafile,
			    ge ? ge->message : "unusable");
		g_clear_error(&ge);
		return EINVAL;
	}
	*dbp = db;
	return 0;
}

static int write_private(const char *dir, const char *name, const GString *s)
{
	gchar *path = g_build_filename(dir, name, NULL);
	int err = 0;
	FILE *f;

	/* created 0600 before anything is written into it */
	f = g_fopen(path, "wx");
	if (!f || fchmod(fileno(f), 0600) || fwrite(s->str, 1, s->len, f) != s->len)
		err = errno ? errno : EIO;
	if (f && fclose(f) && !err)
		err = errno ? errno : EIO;
	if (err)
		TND_LOG_ERR(TND_LOG_SIP, "SIP TLS: cannot write %s: %s", path, strerror(err));
	g_free(path);
	return err;
}

int tnd_siptls_dir_make(const struct tnd_sip_conf *conf, char **dirp)
{
	GString *agent, *ca;
	gchar *dir;
	const char *cafile;
	int err;

	if (!conf || !dirp || !conf->tls_cert || !*conf->tls_cert || !conf->tls_key ||
	    !*conf->tls_key)
		return EINVAL;
	dir = g_build_filename(g_get_tmp_dir(), "tandem-sip-tls-XXXXXX", NULL);
	/* g_mkdtemp makes it 0700 */
	if (!g_mkdtemp(dir)) {
		err = errno ? errno : EIO;
		g_free(dir);
		return err;
	}
	agent = g_string_new(NULL);
	ca = g_string_new(NULL);
	cafile = conf->tls_ca && *conf->tls_ca ? conf->tls_ca : SYSTEM_CA;
	err = append_file(agent, conf->tls_cert);
	if (!err)
		err = append_file(agent, conf->tls_key);
	if (!err)
		err = append_file(ca, cafile);
	if (!err)
		err = write_private(dir, "agent.pem", agent);
	if (!err)
		err = write_private(dir, "cafile.pem", ca);
	memset(agent->str, 0, agent->len);
	g_string_free(agent, TRUE);
	g_string_free(ca, TRUE);
	if (err) {
		tnd_siptls_dir_free(dir);
		return err;
	}
	*dirp = dir;
	return 0;
}

void tnd_siptls_dir_free(char *dir)
{
	static const char *const files[] = { "agent.pem", "cafile.pem", "tls_seed.dat" };

	if (!dir)
		return;
	for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
		gchar *path = g_build_filename(dir, files[i], NULL);

		g_unlink(path);
		g_free(path);
	}
	g_rmdir(dir);
	g_free(dir);
}

char *tnd_siptls_contact(const struct tnd_sipua *ua, const char *user, const char *hop,
			 const sip_t *sip)
{
	char transport[8] = "", *out;
	bool sips;
	size_t n;

	if (!ua || !ua->tls_port)
		return NULL;
	if (sip) {
		const char *proto = sip->sip_via && sip->sip_via->v_protocol ?
				    sip->sip_via->v_protocol : "";

		if (!sip->sip_request)
			return NULL;
		sips = sip->sip_request->rq_url->url_type == url_sips;
		if (!g_ascii_strncasecmp(proto, "SIP/2.0/", 8))
			snprintf(transport, sizeof(transport), "%s", proto + 8);
	} else {
		char buf[512];
		url_t u;

		if (!hop || strlen(hop) >= sizeof(buf))
			return NULL;
		strcpy(buf, hop);
		if (url_d(&u, buf) < 0)
			return NULL;
		sips = u.url_type == url_sips;
		if (u.url_params)
			url_param(u.url_params, "transport", transport, sizeof(transport));
	}
	if (sips)
		return NULL;
	if (!user)
		user = "";
	n = strlen(user) + strlen(ua->from_host) + 40;
	out = malloc(n);
	if (!out)
		return NULL;
	if (!g_ascii_strcasecmp(transport, "tls"))
		snprintf(out, n, "<sip:%s%s%s:%d;transport=tls>", user, *user ? "@" : "",
			 ua->from_host, ua->tls_port);
	else if (!g_ascii_strcasecmp(transport, "tcp") || !ua->udp)
		snprintf(out, n, "<sip:%s%s%s:%d;transport=tcp>", user, *user ? "@" : "",
			 ua->from_host, ua->port);
	else
		snprintf(out, n, "<sip:%s%s%s:%d>", user, *user ? "@" : "", ua->from_host,
			 ua->port);
	return out;
}
