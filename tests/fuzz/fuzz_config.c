/* libFuzzer target: the configuration parser and validator, whole. */
#include <stddef.h>
#include <stdint.h>

#include "gateway/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tnd_conf *conf;
	char err[1024];

	if (tnd_conf_load_text(&conf, "fuzz.conf", (const char *)data, size, err,
			       sizeof(err)) == 0)
		tnd_conf_free(conf);
	return 0;
}
