/* libFuzzer target: [trunks] and [dialplan] lines (gateway/policy/
 * dialplan.c), then routing over whatever parsed. The input is the rest of
 * a configuration after two trunks, so most inputs reach the rule parser;
 * a plan that loads is asked to route a handful of dial strings, to
 * normalise them and to build the trunk URIs. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/conf.h"
#include "gateway/policy/dialplan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char head[] =
	"[trunks]\na.address = sip:127.0.0.1:5070\nb.address = sips:sbc.example\n"
	"b.transport = tls\n[dialplan]\n";

static void route(const struct tnd_dialplan *dp, const char *to)
{
	const struct tnd_dialrule *r;
	char digits[40], num[64], uri[512];
	size_t from = 0;

	if (tnd_dialplan_digits(to, digits, sizeof(digits)))
		return;
	while ((r = tnd_dialplan_next(dp, digits, "alice", &from))) {
		if (tnd_dialrule_normalise(r, digits, num, sizeof(num)))
			continue;
		for (char **t = r->trunks; *t; t++)
			tnd_trunk_uri(tnd_dialplan_trunk(dp, *t), num, uri, sizeof(uri));
	}
	tnd_dialplan_any_match(dp, digits);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const numbers[] = { "0201234567", "tel:+44-20-1234", "00155512",
		"999", "*21#", "+", "0", NULL };
	struct tnd_conf *conf;
	char err[1024], *text;
	size_t n = sizeof(head) - 1;

	if (size > 65536)
		return 0;
	text = malloc(n + size);
	if (!text)
		return 0;
	memcpy(text, head, n);
	memcpy(text + n, data, size);
	if (tnd_conf_load_text(&conf, "fuzz.conf", text, n + size, err, sizeof(err)) == 0) {
		for (size_t i = 0; numbers[i]; i++)
			route(conf->dialplan, numbers[i]);
		free(tnd_dialplan_sources(conf->dialplan));
		tnd_conf_free(conf);
	}
	free(text);
	return 0;
}
