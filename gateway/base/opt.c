/* Option tables: see opt.h. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/base/opt.h"

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(v, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(v, no[i])) {
			*out = false;
			return 0;
		}
	}
	return EINVAL;
}

/* Parses value into the field of opt; on failure writes the reason. */
static int set_value(const struct tnd_opt *o, void *conf, const char *v, char *err, size_t errlen)
{
	char *field = (char *)conf + o->offset;
	int e;

	if (o->check) {
		e = o->check(v, err, errlen);
		if (e)
			return e;
	}
	switch (o->type) {
	case TND_OPT_BOOL: {
		bool b;

		if (parse_bool(v, &b)) {
			snprintf(err, errlen, "'%s' is not a boolean (true or false)", v);
			return EINVAL;
		}
		*(bool *)(void *)field = b;
		return 0;
	}
	case TND_OPT_INT: {
		char *end;
		long n;

		errno = 0;
		n = strtol(v, &end, 10);
		if (!*v || *end || errno) {
			snprintf(err, errlen, "'%s' is not a whole number", v);
			return EINVAL;
		}
		if (n < o->min || n > o->max) {
			snprintf(err, errlen, "%ld is out of range %ld..%ld", n, o->min, o->max);
			return EINVAL;
		}
		*(int *)(void *)field = (int)n;
		return 0;
	}
	case TND_OPT_ENUM:
		for (int i = 0; o->choices[i]; i++) {
			if (!strcmp(v, o->choices[i])) {
				*(int *)(void *)field = i;
				return 0;
			}
		}
		{
			size_t pos = (size_t)snprintf(err, errlen, "'%s' is not one of:", v);

			for (int i = 0; o->choices[i] && pos < errlen; i++)
				pos += (size_t)snprintf(err + pos, errlen - pos, " %s",
							o->choices[i]);
		}
		return EINVAL;
	case TND_OPT_STR: {
		char *copy = strdup(v);

		if (!copy)
			return ENOMEM;
		free(*(char **)(void *)field);
		*(char **)(void *)field = copy;
		return 0;
	}
	}
	return EINVAL;
}

int tnd_opt_defaults(const struct tnd_opt_table *t, void *conf)
{
	char err[256];

	for (size_t i = 0; i < t->n_opts; i++) {
		int e = set_value(&t->opts[i], conf, t->opts[i].def, err, sizeof(err));

		/* a default that fails its own check is our bug, not input */
		if (e)
			return e == ENOMEM ? ENOMEM : EINVAL;
	}
	return 0;
}

static const struct tnd_opt *find_opt(const struct tnd_opt_table *t, const char *s,
				      const char *k, bool *section_known)
{
	for (size_t i = 0; i < t->n_opts; i++) {
		if (strcmp(t->opts[i].section, s))
			continue;
		*section_known = true;
		if (!strcmp(t->opts[i].key, k))
			return &t->opts[i];
	}
	return NULL;
}

int tnd_opt_apply(const struct tnd_opt_table *t, void *conf, const struct tnd_ini *ini,
		  const char *file, char *err, size_t errlen)
{
	char why[512];

	for (size_t i = 0; i < ini->count; i++) {
		const struct tnd_ini_entry *en = &ini->entries[i];
		const struct tnd_opt_map *map = NULL;
		bool section_known = false;
		const struct tnd_opt *o;
		int e;

		why[0] = '\0';
		for (size_t m = 0; m < t->n_maps; m++)
			if (!strcmp(t->maps[m].section, en->section))
				map = &t->maps[m];
		if (map) {
			e = map->add(conf, en->key, en->value, why, sizeof(why));
		} else {
			o = find_opt(t, en->section, en->key, &section_known);
			if (!o) {
				snprintf(why, sizeof(why), section_known ?
					 "unknown key (see tandem --help)" :
					 "unknown section (see tandem --help)");
				e = EINVAL;
			} else {
				e = set_value(o, conf, en->value, why, sizeof(why));
			}
		}
		if (e == ENOMEM)
			return ENOMEM;
		if (e) {
			snprintf(err, errlen, "%s:%u: [%s] %s: %s", file, en->line, en->section,
				 en->key, why);
			return EINVAL;
		}
	}
	return 0;
}

void tnd_opt_release(const struct tnd_opt_table *t, void *conf)
{
	for (size_t i = 0; i < t->n_opts; i++) {
		if (t->opts[i].type == TND_OPT_STR) {
			char **f = (char **)(void *)((char *)conf + t->opts[i].offset);

			free(*f);
			*f = NULL;
		}
	}
}

static void print_range(const struct tnd_opt *o, FILE *out, const char *lead)
{
	switch (o->type) {
	case TND_OPT_BOOL:
		fprintf(out, "%sboolean, default %s\n", lead, o->def);
		break;
	case TND_OPT_INT:
		fprintf(out, "%s%ld..%ld, default %s\n", lead, o->min, o->max, o->def);
		break;
	case TND_OPT_ENUM:
		fprintf(out, "%sone of:", lead);
		for (int i = 0; o->choices[i]; i++)
			fprintf(out, " %s", o->choices[i]);
		fprintf(out, "; default %s\n", o->def);
		break;
	case TND_OPT_STR:
		fprintf(out, "%sdefault %s\n", lead, *o->def ? o->def : "(empty)");
		break;
	}
}

void tnd_opt_print_help(const struct tnd_opt_table *t, FILE *out)
{
	const char *section = "";

	for (size_t i = 0; i < t->n_opts; i++) {
		const struct tnd_opt *o = &t->opts[i];

		if (strcmp(section, o->section)) {
			section = o->section;
			fprintf(out, "\n  [%s]\n", section);
		}
		fprintf(out, "    %-20s ", o->key);
		print_range(o, out, "");
		fprintf(out, "    %-20s %s\n", "", o->help);
	}
	for (size_t m = 0; m < t->n_maps; m++)
		fprintf(out, "\n  [%s]\n    %s\n", t->maps[m].section, t->maps[m].help);
}

/* Wraps help text into '# ' comment lines of at most 78 columns. */
static void print_comment(FILE *out, const char *text)
{
	const char *p = text;

	while (*p) {
		size_t n = strlen(p), cut = n;

		if (n > 76) {
			cut = 76;
			while (cut > 0 && p[cut] != ' ')
				cut--;
			if (cut == 0)
				cut = 76;
		}
		fprintf(out, "# %.*s\n", (int)cut, p);
		p += cut;
		while (*p == ' ')
			p++;
	}
}

void tnd_opt_print_example(const struct tnd_opt_table *t, FILE *out)
{
	const char *section = "";

	fprintf(out, "# Tandem configuration: every key, with its default.\n"
		     "# Generated by `tandem --print-example-config`; do not edit by hand.\n"
		     "# Lines starting with # or ; are comments. Unknown keys are errors.\n");
	for (size_t i = 0; i < t->n_opts; i++) {
		const struct tnd_opt *o = &t->opts[i];

		if (strcmp(section, o->section)) {
			section = o->section;
			fprintf(out, "\n[%s]\n", section);
		}
		fprintf(out, "\n");
		print_comment(out, o->help);
		print_range(o, out, "# ");
		fprintf(out, "%s = %s\n", o->key, o->def);
	}
	for (size_t m = 0; m < t->n_maps; m++) {
		fprintf(out, "\n[%s]\n", t->maps[m].section);
		print_comment(out, t->maps[m].help);
		fprintf(out, "%s", t->maps[m].example);
	}
}

/* Writes text as one roff line: a backslash becomes \e, a line may not start
 * with a control character, and `code` is set in bold. */
static void man_text(FILE *out, const char *text)
{
	bool bold = false;

	if (*text == '.' || *text == '\'')
		fputs("\\&", out);
	for (const char *p = text; *p; p++) {
		if (*p == '\\')
			fputs("\\e", out);
		else if (*p == '`')
			fputs((bold = !bold) ? "\\fB" : "\\fR", out);
		else if (*p == '-' && (p == text || p[-1] == ' ') && p[1] == '-')
			fputs("\\-", out);      /* an option name: keep its ASCII dashes */
		else
			fputc(*p, out);
	}
	fputs(bold ? "\\fR\n" : "\n", out);
}

static void man_range(const struct tnd_opt *o, FILE *out)
{
	switch (o->type) {
	case TND_OPT_BOOL:
		fputs("Type: boolean", out);
		break;
	case TND_OPT_INT:
		fprintf(out, "Type: integer, %ld to %ld", o->min, o->max);
		break;
	case TND_OPT_ENUM:
		fputs("Type: one of", out);
		for (int i = 0; o->choices[i]; i++)
			fprintf(out, "%s\\fB%s\\fR", i ? ", " : " ", o->choices[i]);
		break;
	case TND_OPT_STR:
		fputs("Type: string", out);
		break;
	}
	fputs(". Default: ", out);
	if (*o->def) {
		fputs("\\fB", out);
		for (const char *p = o->def; *p; p++) {
			if (*p == '\\')
				fputs("\\e", out);
			else
				fputc(*p, out);
			/* a long list (SDES suites) may break after its commas */
			if (*p == ',')
				fputs("\\:", out);
		}
		fputs("\\fR.\n", out);
	} else {
		fputs("empty.\n", out);
	}
}

void tnd_opt_print_man(const struct tnd_opt_table *t, FILE *out)
{
	const char *section = "";

	for (size_t i = 0; i < t->n_opts; i++) {
		const struct tnd_opt *o = &t->opts[i];

		if (strcmp(section, o->section)) {
			section = o->section;
			fprintf(out, ".SS [%s]\n", section);
		}
		fprintf(out, ".TP\n.B %s\n", o->key);
		man_range(o, out);
		fputs(".br\n", out);
		man_text(out, o->help);
	}
	for (size_t m = 0; m < t->n_maps; m++) {
		fprintf(out, ".SS [%s]\n", t->maps[m].section);
		man_text(out, t->maps[m].help);
		fputs(".PP\nExample:\n.RS\n.nf\n", out);
		for (const char *p = t->maps[m].example; *p;) {
			const char *nl = strchr(p, '\n');
			size_t n = nl ? (size_t)(nl - p) : strlen(p);
			char *line = strndup(p, n);

			if (line)
				man_text(out, line);
			free(line);
			p += n + (nl ? 1 : 0);
		}
		fputs(".fi\n.RE\n", out);
	}
}
