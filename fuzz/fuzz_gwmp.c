/*
 * A UDP datagram from anyone, as the bridge handles it (bridge.c
 * handle_datagram): gwmp_parse(), then for PUSH_DATA the body through
 * uplink_map(), for TX_ACK (and PULL_ACK, which Pycom sends instead) the
 * body through txack_parse() and the ack, and the PUSH_ACK/PULL_ACK reply.
 */
#include <stdlib.h>
#include <string.h>

#include "bridge_checks.h"
#include "fuzz.h"
#include "gwmp.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gwmp_packet pkt;
	int rc = gwmp_parse(data, size, &pkt);
	FUZZ_CHECK(gwmp_error_name(rc) != NULL);
	if (rc != GWMP_OK) {
		return 0;
	}
	FUZZ_CHECK(size >= GWMP_GATEWAY_HEADER_LEN);
	FUZZ_CHECK(pkt.version == 1 || pkt.version == 2);
	FUZZ_CHECK(strcmp(gwmp_type_name(pkt.type), "unknown") != 0);
	/* The body lies inside the datagram. */
	FUZZ_CHECK(pkt.body_len == 0 ||
	           (pkt.body >= data && pkt.body_len <= size - (size_t)(pkt.body - data)));
	uint8_t ack[GWMP_ACK_LEN];
	switch (pkt.type) {
	case GWMP_PUSH_DATA:
		FUZZ_CHECK(gwmp_build_ack(ack, pkt.version, pkt.token, GWMP_PUSH_ACK) ==
		           GWMP_ACK_LEN);
		check_push_data((const char *)pkt.body, pkt.body_len);
		break;
	case GWMP_PULL_DATA:
		FUZZ_CHECK(gwmp_build_ack(ack, pkt.version, pkt.token, GWMP_PULL_ACK) ==
		           GWMP_ACK_LEN);
		break;
	case GWMP_TX_ACK:
	case GWMP_PULL_ACK:
		check_tx_ack((const char *)pkt.body, pkt.body_len);
		break;
	default:
		/* gwmp_parse refuses what a gateway never sends. */
		FUZZ_CHECK(!"a server-bound type");
	}
	return 0;
}
