/* The recent packets of each gateway, for the packets query: a ring of
 * `packets_ring` entries, allocated on the gateway's first packet. */
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "daemon_internal.h"
#include "lf/json.h"
#include "lf/util.h"
#include "lorawan.h"

static struct packet_rec *
next_slot(struct routerlink *rl, struct rl_gateway *gw)
{
	size_t size = (size_t)rl->cfg->packets_ring;
	if (gw->ring == NULL && (gw->ring = calloc(size, sizeof(*gw->ring))) == NULL) {
		return NULL;
	}
	struct packet_rec *p = &gw->ring[gw->ring_next];
	gw->ring_next = (gw->ring_next + 1) % size;
	if (gw->ring_count < size) {
		gw->ring_count++;
	}
	memset(p, 0, sizeof(*p));
	return p;
}

static void
fill_frame(struct packet_rec *p, const struct lorawan_frame *f)
{
	p->frame_type = (uint8_t)f->type;
	p->has_dev_addr = f->has_dev_addr;
	p->dev_addr = f->dev_addr;
	p->has_fcnt = f->has_fcnt;
	p->fcnt = f->fcnt;
	p->has_fport = f->has_fport;
	p->fport = f->fport;
}

void
packets_add_uplink(struct routerlink *rl, struct rl_gateway *gw, const struct uplink *up)
{
	struct packet_rec *p = next_slot(rl, gw);
	if (p == NULL) {
		return;
	}
	p->timestamp_ms = up->received_at_ms;
	p->rssi = up->rssi;
	p->snr = up->snr;
	p->frequency = up->frequency;
	p->datarate = (uint8_t)up->datarate;
	p->payload_size = (uint8_t)up->payload_len;
	fill_frame(p, &up->frame);
}

void
packets_add_downlink(struct routerlink *rl, struct rl_gateway *gw, const struct router_msg *msg)
{
	struct packet_rec *p = next_slot(rl, gw);
	if (p == NULL) {
		return;
	}
	p->timestamp_ms = lf_wall_ms();
	p->downlink = true;
	p->frequency = msg->rx1.frequency;
	p->datarate = (uint8_t)msg->rx1.datarate;
	p->payload_size = (uint8_t)msg->payload_len;
	struct lorawan_frame f;
	lorawan_parse(msg->payload, msg->payload_len, &f);
	fill_frame(p, &f);
}

static cJSON *
packet_json(const struct packet_rec *p)
{
	cJSON *o = cJSON_CreateObject();
	if (o == NULL) {
		return NULL;
	}
	cJSON_AddStringToObject(o, "direction", p->downlink ? "down" : "up");
	cJSON_AddNumberToObject(o, "rssi", p->rssi);
	/* Rounded to 0.1 dB as the forwarder reports it, not float noise. */
	cJSON_AddNumberToObject(o, "snr",
	                        (double)(int)(p->snr * 10.0f + (p->snr < 0 ? -0.5f : 0.5f)) / 10.0);
	cJSON_AddNumberToObject(o, "frequency", p->frequency / 1e6);
	const char *dr = protobuf_c_enum_descriptor_get_value(&helium__data_rate__descriptor,
	                                                      p->datarate) != NULL
	                         ? protobuf_c_enum_descriptor_get_value(
	                                   &helium__data_rate__descriptor, p->datarate)
	                                   ->name
	                         : "unknown";
	cJSON_AddStringToObject(o, "spreading_factor", dr);
	cJSON_AddNumberToObject(o, "payload_size", p->payload_size);
	cJSON_AddNumberToObject(o, "timestamp", (double)p->timestamp_ms);
	cJSON_AddStringToObject(o, "frame_type",
	                        lorawan_ftype_name((enum lorawan_ftype)p->frame_type));
	if (p->has_dev_addr) {
		char addr[LORAWAN_DEVADDR_STRLEN];
		lorawan_dev_addr_format(p->dev_addr, addr);
		cJSON_AddStringToObject(o, "dev_addr", addr);
	}
	if (p->has_fcnt) {
		cJSON_AddNumberToObject(o, "fcnt", p->fcnt);
	}
	if (p->has_fport) {
		cJSON_AddNumberToObject(o, "fport", p->fport);
	}
	return o;
}

char *
packets_json(const struct routerlink *rl, const struct rl_gateway *gw)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *list = root != NULL ? cJSON_AddArrayToObject(root, "packets") : NULL;
	if (list == NULL) {
		cJSON_Delete(root);
		return NULL;
	}
	cJSON_AddStringToObject(root, "mac", gw->mac);
	size_t size = (size_t)rl->cfg->packets_ring;
	/* Oldest first, newest last. */
	size_t start = (gw->ring_next + size - gw->ring_count) % size;
	for (size_t i = 0; i < gw->ring_count; i++) {
		cJSON_AddItemToArray(list, packet_json(&gw->ring[(start + i) % size]));
	}
	char *text = lf_json_print(root);
	cJSON_Delete(root);
	return text;
}
