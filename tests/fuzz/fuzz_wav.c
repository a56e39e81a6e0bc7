/* libFuzzer target: WAV files for hold music (codecs/wav.c). The input is
 * the whole file, exactly its length, so ASan sees a read past it. A file
 * that parses gives a format we take and samples that lie inside the
 * input, each of which is read here; one that does not gives a reason. */
#include <stdlib.h>
#include <string.h>

#include "codecs/codecs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tnd_wav w;
	char why[128];
	int64_t sum = 0;

	if (tnd_wav_parse(data, size, &w, why, sizeof(why))) {
		if (!why[0])
			abort();
		return 0;
	}
	if ((w.channels != 1 && w.channels != 2) || w.rate < 8000 || w.rate > 48000 ||
	    !w.frames || w.data < data ||
	    (size_t)(w.data - data) + w.frames * w.channels * 2 > size)
		abort();
	for (size_t i = 0; i < w.frames; i++)
		for (unsigned c = 0; c < w.channels; c++)
			sum += tnd_wav_sample(&w, i, c);
	return sum == INT64_MIN;   /* keeps the reads */
}
