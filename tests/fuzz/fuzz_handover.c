/* fuzz_handover.c: libFuzzer harness: ho_decode on raw hand-over states; what it accepts must encode back to the same bytes, what it refuses must say why. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/handover_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const uint8_t *data, size_t size);

/*
 * Each input twice: as it is (the CRC refuses nearly every mutation), and with its CRC made right, so that
 * the record parsers and the checks behind them see the mutations too.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *fixed;
	uint32_t crc;

	one(data, size);
	if (size < HO_HEADER_SIZE)
		return 0;
	fixed = malloc(size);
	if (!fixed)
		return 0;
	memcpy(fixed, data, size);
	memset(fixed + 24, 0, 4);
	crc = ho_crc32(fixed, size);
	memcpy(fixed + 24, &crc, 4);
	one(fixed, size);
	free(fixed);
	return 0;
}

static void one(const uint8_t *data, size_t size)
{
	struct ho_state st;
	char why[200];
	uint8_t *buf;
	size_t len;
	int ret = ho_decode(data, size, &st, why, sizeof(why));

	if (ret != 0 && ret != -EINVAL && ret != -EPROTONOSUPPORT && ret != -ENOMEM)
		abort(); /* the successor's refusal names one of these */
	if (ret) {
		if (ret != -ENOMEM && !why[0])
			abort(); /* every refusal says why, in one line */
		ho_state_free(&st);
		return;
	}
	/* Accepted: a state has exactly one encoding, and the encoder's checks agree with the decoder's. */
	if (ho_encode(&st, &buf, &len))
		abort();
	if (len != size || memcmp(buf, data, size) != 0)
		abort();
	free(buf);
	ho_state_free(&st);
}
