/* Structured logging: see log.h. One write(2) per line keeps lines whole
 * across threads without a lock; the file descriptor is swapped atomically on
 * reopen and the old one closed after the swap. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "gateway/base/log.h"

_Static_assert(TND_LOG_MOD_COUNT == 9, "initialise every module's level");

atomic_int tnd_log_levels[TND_LOG_MOD_COUNT] = {
	TND_LOG_LEVEL_INFO, TND_LOG_LEVEL_INFO, TND_LOG_LEVEL_INFO, TND_LOG_LEVEL_INFO,
	TND_LOG_LEVEL_INFO, TND_LOG_LEVEL_INFO, TND_LOG_LEVEL_INFO, TND_LOG_LEVEL_INFO,
	TND_LOG_LEVEL_INFO,
};

static const char *const level_names[] = { "error", "warn", "notice", "info", "debug" };
static const char *const mod_names[TND_LOG_MOD_COUNT] = {
	"main", "conf", "api", "policy", "sip", "webrtc", "media", "codecs", "lib",
};

static atomic_int log_fd = 2;
static _Thread_local const char *call_id;

const char *tnd_log_level_name(enum tnd_log_level level)
{
	return (unsigned)level < 5 ? level_names[level] : "?";
}

const char *tnd_log_mod_name(enum tnd_log_mod mod)
{
	return (unsigned)mod < TND_LOG_MOD_COUNT ? mod_names[mod] : "?";
}

void tnd_log_set_call(const char *id)
{
	call_id = id;
}

static int level_from(const char *s, size_t n)
{
	for (int i = 0; i < 5; i++)
		if (strlen(level_names[i]) == n && !strncasecmp(s, level_names[i], n))
			return i;
	return -1;
}

static int mod_from(const char *s, size_t n)
{
	for (int i = 0; i < TND_LOG_MOD_COUNT; i++)
		if (strlen(mod_names[i]) == n && !strncmp(s, mod_names[i], n))
			return i;
	return -1;
}

int tnd_log_parse_levels(const char *spec, bool check_only)
{
	int levels[TND_LOG_MOD_COUNT];
	const char *p = spec;
	bool first = true;

	if (!spec)
		return EINVAL;
	for (int i = 0; i < TND_LOG_MOD_COUNT; i++)
		levels[i] = TND_LOG_LEVEL_INFO;
	while (*p) {
		const char *end = strchr(p, ',');
		const char *eq;
		size_t n;
		int lvl, mod;

		if (!end)
			end = p + strlen(p);
		while (p < end && *p == ' ')
			p++;
		n = (size_t)(end - p);
		while (n && p[n - 1] == ' ')
			n--;
		eq = memchr(p, '=', n);
		if (!eq) {
			/* a bare level sets the default, and only first */
			lvl = level_from(p, n);
			if (lvl < 0 || !first)
				return EINVAL;
			for (int i = 0; i < TND_LOG_MOD_COUNT; i++)
				levels[i] = lvl;
		} else {
			mod = mod_from(p, (size_t)(eq - p));
			lvl = level_from(eq + 1, n - (size_t)(eq - p) - 1);
			if (mod < 0 || lvl < 0)
				return EINVAL;
			levels[mod] = lvl;
		}
		first = false;
		p = *end ? end + 1 : end;
	}
	if (first)
		return EINVAL;
	if (!check_only)
		for (int i = 0; i < TND_LOG_MOD_COUNT; i++)
			atomic_store_explicit(&tnd_log_levels[i], levels[i], memory_order_relaxed);
	return 0;
}

int tnd_log_open(const char *path)
{
	int fd = 2, old;

	if (path && *path) {
		fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (fd < 0)
			return errno;
	}
	old = atomic_exchange(&log_fd, fd);
	if (old > 2)
		close(old);
	return 0;
}

void tnd_log_close(void)
{
	int old = atomic_exchange(&log_fd, 2);

	if (old > 2)
		close(old);
}

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

bool tnd_log_rl_pass(struct tnd_log_rl *rl, unsigned long *dropped)
{
	long long now = now_us();

	if (now < rl->next_us) {
		rl->dropped++;
		return false;
	}
	*dropped = rl->dropped;
	rl->dropped = 0;
	rl->next_us = now + 1000000;
	return true;
}

/* Appends `s` to the line with logfmt quoting: quotes, backslashes and
 * control characters are escaped so one log line stays one line. */
static size_t put_escaped(char *buf, size_t pos, size_t cap, const char *s)
{
	for (; *s && pos + 4 < cap; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			buf[pos++] = '\\';
			buf[pos++] = (char)c;
		} else if (c == '\n') {
			buf[pos++] = '\\';
			buf[pos++] = 'n';
		} else if (c < 0x20 || c == 0x7f) {
			pos += (size_t)snprintf(buf + pos, cap - pos, "\\x%02x", c);
		} else {
			buf[pos++] = (char)c;
		}
	}
	return pos;
}

void tnd_log_write(enum tnd_log_mod mod, enum tnd_log_level level, const char *fmt, ...)
{
	char msg[2048], line[4608];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	size_t pos;
	int n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
		     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s mod=%s call=%s msg=\"",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		     tm.tm_sec, ts.tv_nsec / 1000000, tnd_log_level_name(level),
		     tnd_log_mod_name(mod), call_id ? call_id : "-");
	pos = put_escaped(line, (size_t)n, sizeof(line) - 2, msg);
	line[pos++] = '"';
	line[pos++] = '\n';
	/* a short write to a full disk loses the line; there is nowhere to report it */
	if (write(atomic_load(&log_fd), line, pos) < 0)
		return;
}
