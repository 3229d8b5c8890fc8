/*
 * A PUSH_DATA body (rxpk and stat JSON) through uplink_map() and the
 * strict scanner behind it (jsonscan.c), with forward_crc_bad off and on.
 * Same checks as fuzz_gwmp, without the header, so every mutation lands
 * in the JSON.
 */
#include "bridge_checks.h"
#include "fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_push_data((const char *)data, size);
	return 0;
}
