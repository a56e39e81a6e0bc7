/* INI parser: see ini.h. Works on a private copy of the text, cutting it into
 * NUL-terminated pieces in place, so entries need no allocation each. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "gateway/base/ini.h"

#define INI_MAX_ENTRIES 65536   /* the file is at most 1 MiB; 1,000 accounts take 5,000 */
#define INI_MAX_NAME 64

static int is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.' || c == '@' || c == '+';
}

static char *trim(char *s, char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	*end = '\0';
	return s;
}

static int check_name(const char *s, const char *what, unsigned line, char *err, size_t errlen)
{
	size_t n = strlen(s);

	if (n == 0 || n > INI_MAX_NAME) {
		snprintf(err, errlen, "line %u: %s name must be 1 to %d characters", line, what,
			 INI_MAX_NAME);
		return EBADMSG;
	}
	for (; *s; s++) {
		if (!is_name_char(*s)) {
			snprintf(err, errlen,
				 "line %u: %s name may hold only letters, digits and _ - . @ +",
				 line, what);
			return EBADMSG;
		}
	}
	return 0;
}

void tnd_ini_free(struct tnd_ini *ini)
{
	if (!ini)
		return;
	free(ini->entries);
	free(ini->text);
	free(ini);
}

static int parse_lines(struct tnd_ini *ini, char *err, size_t errlen)
{
	const char *section = NULL;
	char *p = ini->text;
	unsigned line = 0;
	size_t cap = 0;
	int err_ = 0;

	while (*p) {
		char *eol = strchr(p, '\n');
		char *next = eol ? eol + 1 : p + strlen(p);
		char *s;

		line++;
		s = trim(p, eol ? eol : next);
		p = next;
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');

			if (!close || close[1] != '\0') {
				snprintf(err, errlen, "line %u: section header must be [name]", line);
				return EBADMSG;
			}
			section = trim(s + 1, close);
			err_ = check_name(section, "section", line, err, errlen);
			if (err_)
				return err_;
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errlen, "line %u: expected [section] or key = value", line);
			return EBADMSG;
		}
		if (!section) {
			snprintf(err, errlen, "line %u: key before the first [section]", line);
			return EBADMSG;
		}
		char *key = trim(s, eq);
		char *value = trim(eq + 1, eq + 1 + strlen(eq + 1));
		err_ = check_name(key, "key", line, err, errlen);
		if (err_)
			return err_;
		for (size_t i = 0; i < ini->count; i++) {
			if (!strcmp(ini->entries[i].section, section) &&
			    !strcmp(ini->entries[i].key, key)) {
				snprintf(err, errlen, "line %u: [%s] %s repeats line %u", line,
					 section, key, ini->entries[i].line);
				return EBADMSG;
			}
		}
		if (ini->count == cap) {
			struct tnd_ini_entry *n;

			if (cap == INI_MAX_ENTRIES) {
				snprintf(err, errlen, "line %u: more than %d keys", line,
					 INI_MAX_ENTRIES);
				return EBADMSG;
			}
			cap = cap ? cap * 2 : 32;
			n = realloc(ini->entries, cap * sizeof(*n));
			if (!n)
				return ENOMEM;
			ini->entries = n;
		}
		ini->entries[ini->count++] = (struct tnd_ini_entry){ section, key, value, line };
	}
	return 0;
}

static unsigned line_of(const char *data, const char *at)
{
	unsigned line = 1;

	for (; data < at; data++)
		line += *data == '\n';
	return line;
}

int tnd_ini_parse(struct tnd_ini **inip, const char *data, size_t len, char *err, size_t errlen)
{
	struct tnd_ini *ini;
	const char *bad;
	int e;

	if (!inip || (!data && len) || !err || !errlen)
		return EINVAL;
	err[0] = '\0';
	bad = memchr(data, '\0', len);
	if (bad || !g_utf8_validate(data, (gssize)len, &bad)) {
		snprintf(err, errlen, "line %u: %s", line_of(data, bad),
			 *bad ? "not valid UTF-8" : "NUL byte in the file");
		return EBADMSG;
	}
	ini = calloc(1, sizeof(*ini));
	if (!ini)
		return ENOMEM;
	ini->text = malloc(len + 1);
	if (!ini->text) {
		e = ENOMEM;
		goto out;
	}
	memcpy(ini->text, data, len);
	ini->text[len] = '\0';
	e = parse_lines(ini, err, errlen);
 out:
	if (e)
		tnd_ini_free(ini);
	else
		*inip = ini;
	return e;
}
