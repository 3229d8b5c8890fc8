/*
 * A `lorawan/<mac>/up` payload as routerlink handles it (daemon.c
 * handle_up): rl_uplink_decode() (with lorawan_parse() of the frame),
 * then what the stream does with a forwarded uplink: packet_up_encode()
 * signed, checked as the router would check it, and the recent-packets
 * ring. The same bytes are also read as an `ack` (rl_ack_parse) and as a
 * raw PHYPayload (lorawan_parse).
 */
#include <stdlib.h>
#include <string.h>

#include "downlink_codec.h"
#include "fuzz.h"
#include "lorawan.h"
#include "packet_router.pb-c.h"
#include "rl_checks.h"
#include "uplink_codec.h"

static struct rl_fuzz F;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	rl_fuzz_init(&F);
	return 0;
}

static void
check_encoded(const struct uplink *up, Helium__Region region)
{
	uint8_t buf[RL_FUZZ_ENVELOPE_MAX];
	const uint64_t hold_ms = 1234;
	size_t n = packet_up_encode(up, region, hold_ms, F.key_bin, F.key.sk, buf, sizeof(buf));
	/* A decoded uplink always encodes (else stream.c drops it as "encode"). */
	FUZZ_CHECK(n > 0 && n <= sizeof(buf));
	Helium__PacketRouter__EnvelopeUpV1 *env = rl_fuzz_check_envelope(
	        buf, n, HELIUM__PACKET_ROUTER__ENVELOPE_UP_V1__DATA_PACKET, F.key.pk);
	const Helium__PacketRouter__PacketRouterPacketUpV1 *p = env->packet;
	FUZZ_CHECK(p->payload.len == up->payload_len &&
	           memcmp(p->payload.data, up->payload, up->payload_len) == 0);
	FUZZ_CHECK(p->timestamp == up->tmst && p->rssi == up->rssi &&
	           p->frequency == up->frequency && p->datarate == up->datarate &&
	           p->snr == up->snr && p->region == region && p->hold_time == hold_ms);
	FUZZ_CHECK(p->gateway.len == RL_KEY_BIN_LEN &&
	           memcmp(p->gateway.data, F.key_bin, RL_KEY_BIN_LEN) == 0);
	helium__packet_router__envelope_up_v1__free_unpacked(env, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lorawan_frame frame;
	lorawan_parse(data, size, &frame);
	FUZZ_CHECK(lorawan_ftype_name(frame.type) != NULL);
	(void)lorawan_is_uplink_for_router(data, size);

	struct uplink up;
	char err[256] = "";
	enum uplink_drop why =
	        rl_uplink_decode((const char *)data, size, RL_FUZZ_EUI, &up, err, sizeof(err));
	FUZZ_CHECK(strcmp(uplink_drop_name(why), "unknown") != 0);
	FUZZ_CHECK(strlen(err) < sizeof(err));
	if (why == UPLINK_OK) {
		FUZZ_CHECK(up.eui == RL_FUZZ_EUI);
		FUZZ_CHECK(up.payload_len > 0 && up.payload_len <= UPLINK_PAYLOAD_MAX);
		FUZZ_CHECK(lorawan_is_uplink_for_router(up.payload, up.payload_len));
		check_encoded(&up, HELIUM__REGION__US915);
		check_encoded(&up, HELIUM__REGION__EU868);
		rl_fuzz_reset_ring(&F);
		packets_add_uplink(&F.rl, &F.gw, &up);
		rl_fuzz_check_packets(&F);
	} else {
		FUZZ_CHECK(err[0] != '\0');
	}

	char id[64], error[64], why_not[200];
	if (rl_ack_parse((const char *)data, size, id, sizeof(id), error, sizeof(error), why_not,
	                 sizeof(why_not)) == 0) {
		FUZZ_CHECK(strlen(id) < sizeof(id) && strlen(error) < sizeof(error));
		(void)rl_ack_wants_rx2(error);
	}
	return 0;
}
