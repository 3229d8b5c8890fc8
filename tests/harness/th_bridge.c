/* Helpers shared by the bridge's integration tests. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
th_gw_push_sync(struct th_gateway *gw, const char *json, int *other)
{
	uint16_t token = gw->next_token++;
	if (other != NULL) {
		*other = 0;
	}
	if (th_gw_send_push(gw, gw->version, token, json) != 0) {
		return -1;
	}
	int64_t deadline = lf_now_ms() + 5000;
	uint8_t buf[TH_UDP_MAX];
	for (;;) {
		int64_t left = deadline - lf_now_ms();
		ssize_t n = left > 0 ? th_gw_recv(gw, TH_UP, buf, sizeof(buf), (int)left) : -1;
		if (n < 0) {
			fprintf(stderr, "harness: %s: no PUSH_ACK for token %04x\n", gw->mac,
			        token);
			return -1;
		}
		if (n == 4 && buf[0] == gw->version && buf[1] == (token >> 8) &&
		    buf[2] == (token & 0xff) && buf[3] == TH_PUSH_ACK) {
			return 0;
		}
		if (other != NULL) {
			(*other)++;
		}
	}
}

void
th_sentinel_json(char *out, size_t outlen, const char *tag)
{
	snprintf(out, outlen,
	         "{\"rxpk\":[{\"tmst\":1,\"freq\":868.1,\"stat\":1,\"modu\":\"LORA\","
	         "\"datr\":\"SF7BW125\",\"codr\":\"4/5\",\"rssi\":-50,\"lsnr\":9.5,\"size\":1,"
	         "\"data\":\"AA==\",\"sentinel\":\"%s\"}]}",
	         tag);
}

void
th_sentinel_at(struct th_mqtt *m, struct th_gateway *gw, const char *pattern, const char *tag,
               const char *file, int line)
{
	char json[512];
	th_sentinel_json(json, sizeof(json), tag);
	if (th_gw_push_sync(gw, json, NULL) != 0) {
		print_error("%s:%d: the sentinel uplink got no PUSH_ACK\n", file, line);
		_fail(file, line);
	}
	char want_topic[64];
	th_topic(want_topic, sizeof(want_topic), gw->mac, "up");
	struct th_msg *msg = th_wait_msg_at(m, pattern, 5000, file, line);
	cJSON *root = cJSON_Parse(msg->payload);
	const cJSON *rxpk = cJSON_GetObjectItemCaseSensitive(root, "rxpk");
	const cJSON *got = cJSON_GetObjectItemCaseSensitive(rxpk, "sentinel");
	bool ok = strcmp(msg->topic, want_topic) == 0 && cJSON_IsString(got) &&
	          strcmp(got->valuestring, tag) == 0;
	if (!ok) {
		print_error("%s:%d: expected the sentinel \"%s\" on %s as the next message on %s,\n"
		            "  got %s: %s\n",
		            file, line, tag, want_topic, pattern, msg->topic, msg->payload);
	}
	cJSON_Delete(root);
	th_msg_free(msg);
	if (!ok) {
		_fail(file, line);
	}
}

struct th_msg *
th_wait_ack_at(struct th_mqtt *m, const char *mac, const char *id, const char *error,
               const char *file, int line)
{
	char topic[64];
	th_topic(topic, sizeof(topic), mac, "ack");
	struct th_msg *msg = th_wait_msg_at(m, topic, 5000, file, line);
	cJSON *root = th_parse_at(msg->payload, file, line);
	th_assert_str_at(root, "mac", mac, file, line);
	if (id != NULL) {
		th_assert_str_at(root, "id", id, file, line);
	} else {
		th_assert_null_at(root, "id", file, line);
	}
	th_assert_str_at(root, "error", error, file, line);
	if (msg->qos != 1 || msg->retained) {
		print_error("%s:%d: ack delivered with qos %d retained %d, expected qos 1, not "
		            "retained\n",
		            file, line, msg->qos, msg->retained);
		_fail(file, line);
	}
	cJSON_Delete(root);
	return msg;
}

int
th_wait_bridge_online(struct th_mqtt *m, const char *instance, int timeout_ms)
{
	char topic[128];
	snprintf(topic, sizeof(topic), "lorafleet/bridge/%s/state", instance);
	int64_t deadline = lf_now_ms() + th_timeout_ms(timeout_ms);
	for (;;) {
		int64_t left = deadline - lf_now_ms();
		struct th_msg *msg = left > 0 ? th_mqtt_wait(m, topic, (int)left) : NULL;
		if (msg == NULL) {
			fprintf(stderr, "harness: no {\"online\":true} on %s within %d ms\n", topic,
			        timeout_ms);
			return -1;
		}
		cJSON *root = cJSON_Parse(msg->payload);
		bool online = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "online"));
		cJSON_Delete(root);
		th_msg_free(msg);
		if (online) {
			return 0;
		}
	}
}

int
th_publish_down(struct th_mqtt *m, const char *mac, const char *payload)
{
	char topic[64];
	th_topic(topic, sizeof(topic), mac, "down");
	return th_mqtt_publish_str(m, topic, payload);
}

void
th_assert_txpk_at(const cJSON *sent, const cJSON *got, const char *file, int line)
{
	char *want_text = cJSON_PrintUnformatted(sent);
	char *got_text = cJSON_PrintUnformatted(got);
	bool ok = cJSON_IsObject(got);
	const cJSON *item;
	/* Every field sent arrives with the same value; numbers exactly. */
	cJSON_ArrayForEach(item, sent)
	{
		const cJSON *g = cJSON_GetObjectItemCaseSensitive(got, item->string);
		if (g == NULL) {
			ok = false;
		} else if (cJSON_IsNumber(item)) {
			ok = ok && cJSON_IsNumber(g) && g->valuedouble == item->valuedouble;
		} else {
			ok = ok && cJSON_Compare(item, g, true);
		}
	}
	/* Nothing else but the documented defaults. */
	cJSON_ArrayForEach(item, got)
	{
		if (cJSON_GetObjectItemCaseSensitive(sent, item->string) == NULL &&
		    strcmp(item->string, "rfch") != 0 && strcmp(item->string, "size") != 0) {
			ok = false;
		}
	}
	if (!ok) {
		print_error("%s:%d: txpk differs\n  sent %s\n  got  %s\n", file, line,
		            want_text != NULL ? want_text : "?", got_text != NULL ? got_text : "?");
	}
	free(want_text);
	free(got_text);
	if (!ok) {
		_fail(file, line);
	}
}
