/* Option tables (style guide R10).
 *
 * One table of `struct tnd_opt` describes every configuration key: section,
 * key, type, default, range, help, and where its parsed value lives in a
 * typed struct. The same table fills the struct with defaults (the embedded
 * configuration), validates a parsed INI file against it (unknown keys are
 * errors), and prints --help and the example file. Map sections hold
 * free-form keys (user names, say) checked by a function. */
#ifndef TND_BASE_OPT_H
#define TND_BASE_OPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "gateway/base/ini.h"

enum tnd_opt_type {
	TND_OPT_BOOL,     /* bool:  true/false, yes/no, on/off, 1/0 */
	TND_OPT_INT,      /* int:   decimal in [min, max] */
	TND_OPT_STR,      /* char*: any text, check() may narrow it */
	TND_OPT_ENUM,     /* int:   index into choices */
};

/* Extra validation of a value: 0, or EINVAL with a reason in err. */
typedef int (tnd_opt_check_h)(const char *value, char *err, size_t errlen);

struct tnd_opt {
	const char *section;
	const char *key;
	enum tnd_opt_type type;
	const char *def;                /* default, as it would be written in the file */
	long min, max;                  /* TND_OPT_INT */
	const char *const *choices;     /* TND_OPT_ENUM, NULL-terminated */
	size_t offset;                  /* of the field in the config struct */
	tnd_opt_check_h *check;         /* optional */
	const char *help;               /* one or more sentences */
};

/* Free-form section: every key is stored by add(), which validates it. */
typedef int (tnd_opt_map_add_h)(void *conf, const char *key, const char *value, char *err,
				size_t errlen);
struct tnd_opt_map {
	const char *section;
	tnd_opt_map_add_h *add;
	const char *help;
	const char *example;            /* commented example line(s) for the example file */
};

struct tnd_opt_table {
	const struct tnd_opt *opts;
	size_t n_opts;
	const struct tnd_opt_map *maps;
	size_t n_maps;
};

/* Writes every option's default into conf. 0 or ENOMEM. */
int tnd_opt_defaults(const struct tnd_opt_table *t, void *conf);
/* Applies a parsed file over the defaults. On an error returns EINVAL and
 * writes "FILE:LINE: [section] key: reason" to err. */
int tnd_opt_apply(const struct tnd_opt_table *t, void *conf, const struct tnd_ini *ini,
		  const char *file, char *err, size_t errlen);
/* Frees the strings the table put into conf. */
void tnd_opt_release(const struct tnd_opt_table *t, void *conf);

/* --help text and the documented example file, both from the table. */
void tnd_opt_print_help(const struct tnd_opt_table *t, FILE *out);
void tnd_opt_print_example(const struct tnd_opt_table *t, FILE *out);
/* The keys as roff for a man page: one .SS per section, one .TP per key with
 * its type, range, default and help. The caller writes the page around it. */
void tnd_opt_print_man(const struct tnd_opt_table *t, FILE *out);

#endif
