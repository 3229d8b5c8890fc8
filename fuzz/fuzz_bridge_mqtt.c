/*
 * Broker messages the bridge reads besides `down` (fuzz_downlink): other
 * bridges' states (lorafleet/bridge/<instance>/state) and the gateway
 * states they announce (<prefix>/<mac>/state), dispatched as bridge.c's
 * on_mqtt_message does, into a bridge context without sockets. They decide
 * which bridge answers a downlink (downlink_io.c), so the peer table must
 * stay sound: one entry per bridge, its own instance never in it, every
 * remote gateway pointing at a real entry.
 *
 * Input: messages separated by "\n--\n", each a topic line and a payload.
 */
#include <stdlib.h>
#include <string.h>

#include "bridge_internal.h"
#include "fuzz.h"

#define SELF "b1"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	return 0;
}

static void
check_peers(const struct bridge *b)
{
	FUZZ_CHECK(b->n_peers <= MAX_PEER_BRIDGES);
	for (size_t i = 0; i < b->n_peers; i++) {
		const char *name = b->peers[i].instance;
		FUZZ_CHECK(memchr(name, '\0', sizeof(b->peers[i].instance)) != NULL);
		FUZZ_CHECK(strcmp(name, b->instance) != 0);
		for (size_t j = 0; j < i; j++) {
			FUZZ_CHECK(strcmp(b->peers[j].instance, name) != 0);
		}
	}
	const struct gateway *gw;
	for (size_t i = 0; (gw = gateway_table_next(&b->elsewhere, &i)) != NULL;) {
		FUZZ_CHECK(gw->owner == UINT16_MAX || gw->owner < b->n_peers);
		FUZZ_CHECK(!gw->online || gw->owner != UINT16_MAX);
		(void)bridge_served_elsewhere(b, gw->eui);
		(void)bridge_known_elsewhere(b, gw->eui);
	}
	(void)bridge_answers_for_the_fleet(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bridge *b = calloc(1, sizeof(*b));
	FUZZ_CHECK(b != NULL);
	b->prefix = "lorawan";
	memcpy(b->instance, SELF, sizeof(SELF));
	gateway_table_init(&b->gateways);
	gateway_table_init(&b->elsewhere);
	struct fuzz_parts parts;
	fuzz_parts_init(&parts, data, size);
	const uint8_t *part;
	size_t len;
	while (fuzz_parts_next(&parts, &part, &len)) {
		const uint8_t *nl = memchr(part, '\n', len);
		size_t tlen = nl != NULL ? (size_t)(nl - part) : len;
		char *topic = fuzz_strndup(part, tlen);
		size_t plen = nl != NULL ? len - tlen - 1 : 0;
		char *payload = plen > 0 ? malloc(plen) : NULL;
		if (plen > 0) {
			FUZZ_CHECK(payload != NULL);
			memcpy(payload, nl + 1, plen);
		}
		/* MQTT topics carry no NUL (the broker checks). */
		if (strlen(topic) == tlen) {
			if (strncmp(topic, "lorafleet/bridge/", 17) == 0) {
				bridge_handle_peer_state(b, topic, payload, plen);
			} else if (tlen > 6 && strcmp(topic + tlen - 6, "/state") == 0) {
				bridge_handle_remote_state(b, topic, payload, plen);
			} else {
				uint64_t eui;
				(void)bridge_mac_from_topic(b, topic, "down", &eui);
			}
		}
		free(payload);
		free(topic);
	}
	check_peers(b);
	gateway_table_clear(&b->gateways);
	gateway_table_clear(&b->elsewhere);
	free(b->peers);
	free(b);
	return 0;
}
