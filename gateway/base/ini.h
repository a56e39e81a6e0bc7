/* INI parser for the configuration file.
 *
 * We parse ourselves instead of with GKeyFile (style guide R10) because every
 * error must name the file's line, and GKeyFile keeps no line numbers; it
 * also lets a repeated key silently win, which we reject. Grammar: blank
 * lines, comments starting with '#' or ';', `[section]`, `key = value`.
 * Values run to the end of the line, trimmed; there are no inline comments.
 * Pure function of its input, so the fuzzer links it alone. */
#ifndef TND_BASE_INI_H
#define TND_BASE_INI_H

#include <stddef.h>

struct tnd_ini_entry {
	const char *section;   /* borrowed from the tnd_ini */
	const char *key;
	const char *value;
	unsigned line;
};

/* Single owner: tnd_ini_parse / tnd_ini_free. */
struct tnd_ini {
	struct tnd_ini_entry *entries;  /* owned */
	size_t count;
	char *text;                     /* owned: entries point into it */
};

/* Parses `len` bytes. On bad input returns EBADMSG and writes a message
 * starting with "line N: " to err. 0, EBADMSG or ENOMEM. */
int tnd_ini_parse(struct tnd_ini **inip, const char *data, size_t len, char *err, size_t errlen);
void tnd_ini_free(struct tnd_ini *ini);

#endif
