#!/usr/bin/env bash
# Writes the seed corpora fuzz/corpus/<target>/ from the project's own test
# fixtures (tests/fixtures/) and the messages below. The seeds are checked
# in; run this again after changing it (needs xxd and protoc):
#   fuzz/make_corpus.sh
# Seeds are small and meaningful: one valid message of every kind the
# target reads, and a few edge cases. libFuzzer finds the rest.
set -euo pipefail
cd "$(dirname "$0")/.."
fx=tests/fixtures
out=fuzz/corpus
rm -rf "$out"
mkdir -p "$out"

# seed TARGET NAME: stdin -> fuzz/corpus/TARGET/NAME
seed() {
	mkdir -p "$out/$1"
	cat >"$out/$1/$2"
}
hex() { xxd -r -p; }
# A GWMP header: version, token, type, EUI b827ebfffe6a3c10.
gwmp_head() { printf '%02x a1b2 %02x b827ebfffe6a3c10' "$1" "$2" | tr -d ' ' | hex; }
# An envelope_down_v1 from protobuf text format.
envelope_down() {
	protoc --encode=helium.packet_router.envelope_down_v1 -Iproto proto/packet_router.proto
}

# --- gwmp: whole datagrams ------------------------------------------------
for f in push-data pull-data tx-ack-nul tx-ack-as-pull-ack; do
	hex <"$fx/gwmp/$f.hex" | seed gwmp "$f"
done
for f in push-lora-fsk push-jver2-rsig push-rxpk-stat push-stat-only push-crc-mixed; do
	{ gwmp_head 2 0; cat "$fx/gwmp/$f.json"; } | seed gwmp "$f"
done
{ gwmp_head 1 0; cat "$fx/gwmp/push-stat-only.json"; } | seed gwmp push-v1
for f in txack-collision txack-warn; do
	{ gwmp_head 2 5; cat "$fx/gwmp/$f.json"; } | seed gwmp "$f"
done
gwmp_head 2 5 | seed gwmp tx-ack-empty
{ gwmp_head 2 0; printf '[]'; } | seed gwmp push-array
printf '\x02\xa1\xb2\x03\x7b\x7d' | seed gwmp pull-resp-wrong-direction

# --- uplink_map: PUSH_DATA bodies ----------------------------------------
for f in push-lora-fsk push-jver2-rsig push-rxpk-stat push-stat-only push-crc-mixed; do
	seed uplink_map "$f" <"$fx/gwmp/$f.json"
done
printf '{"rxpk":[]}' | seed uplink_map rxpk-empty
printf '{"rxpk":{"data":"AA=="}}' | seed uplink_map rxpk-not-array
printf '{"rxpk":[{"data":"AA==","tmst":1,"datr":"SF7BW125","rsig":[{"ant":0}]},1,"x"]}' |
	seed uplink_map rxpk-mixed-elements
printf '{"stat":{"time":"2026-11-21 10:00:00 GMT","lati":46.2,"long":6.1,"alti":400}}\0\0' |
	seed uplink_map stat-trailing-nuls
printf '{"rxpk":[{"data":"\\u00e9\\ud83d\\ude00","freq":8.681e2,"x":[[[[{}]]]]}]}' |
	seed uplink_map escapes-and-nesting

# --- downlink: `down` requests and TX_ACK bodies ---------------------------
for f in down-lora-class-a down-lora-imme down-fsk down-class-b txack-collision txack-warn; do
	seed downlink "$f" <"$fx/gwmp/$f.json"
done
printf '{"id":{"x":1},"txpk":{}}' | seed downlink id-object
printf '{"id":"a","txpk":{"imme":true,"freq":869.525,"modu":"LORA","datr":"SF12BW125","codr":"4/5","size":3,"data":"AQID"}}' |
	seed downlink size-matches
printf '{"txpk_ack":{"error":"TOO_LATE"}}\0' | seed downlink txack-nul

# --- bridge_mqtt: other bridges' states and the gateway states they announce
{
	printf 'lorafleet/bridge/b2/state\n{"online":true,"version":"0.1.0","topic_prefix":"lorawan"}'
	printf '\n--\nlorawan/b827ebfffe6a3c10/state\n{"mac":"b827ebfffe6a3c10","online":true,"bridge":"b2"}'
	printf '\n--\nlorawan/0000000000000001/state\n{"online":false,"bridge":"b0"}'
	printf '\n--\nlorawan/0000000000000002/state\n{"online":true,"bridge":"b1"}'
	printf '\n--\nlorawan/b827ebfffe6a3c10/down\n{}'
	printf '\n--\nlorafleet/bridge/b2/state\n{"online":false,"topic_prefix":"lorawan"}'
} | seed bridge_mqtt two-bridges
printf 'lorafleet/bridge/b3/state\n{"online":true,"topic_prefix":"other"}\n--\nlorawan/b827ebfffe6a3c10/state\n' |
	seed bridge_mqtt other-fleet-and-cleared
# Regression: a bridge name too long for the peer table took an entry each time.
long=$(printf 'p%.0s' $(seq 70))
printf 'lorawan/b827ebfffe6a3c10/state\n{"online":true,"bridge":"%s"}\n--\nlorawan/b827ebfffe6a3c10/state\n{"online":true,"bridge":"%s"}' \
	"$long" "$long" | seed bridge_mqtt long-bridge-name

# --- rl_uplink: `up` payloads as routerlink reads them ---------------------
for f in "$fx"/routerlink/*.json; do
	seed rl_uplink "$(basename "$f" .json)" <"$f"
done
printf '{"mac":"b827ebfffe6a3c10","id":"rl-1","error":"TOO_LATE"}' | seed rl_uplink ack

# --- router_msg: envelope_down_v1 from the packet router -------------------
envelope_down <<'EOF' | seed router_msg packet-rx1-rx2
packet { payload: "\x60\x04\x03\x02\x01\x00\x01\x00\x01\x02\x03\x04" rx1 { timestamp: 1001234567 frequency: 923300000 datarate: SF10BW500 } rx2 { timestamp: 2001234567 frequency: 923300000 datarate: SF12BW500 } }
EOF
envelope_down <<'EOF' | seed router_msg packet-immediate
packet { payload: "\x20\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10" rx1 { frequency: 869525000 datarate: SF9BW125 immediate: true } }
EOF
envelope_down <<'EOF' | seed router_msg packet-lrfhss
packet { payload: "\x60\x01\x02\x03\x04\x00\x00\x00" rx1 { timestamp: 5 frequency: 868100000 datarate: LRFHSS1BW137 } }
EOF
envelope_down <<'EOF' | seed router_msg session-offer
session_offer { nonce: "0123456789abcdef0123456789abcdef" }
EOF
envelope_down <<'EOF' | seed router_msg packet-ack
packet_ack { payload_hash: "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x20" }
EOF
printf '' | seed router_msg empty-envelope

# --- rl_rpc: method, newline, request ---------------------------------------
printf 'packets\n{"mac":"b827ebfffe6a3c10"}' | seed rl_rpc packets
printf 'sign\n{"mac":"B8:27:EB:FF:FE:6A:3C:10","data":"aGVsbG8gd29ybGQ="}' | seed rl_rpc sign
printf 'sign\n{"mac":"0000000000000002","data":"AA=="}' | seed rl_rpc sign-disabled
printf 'sign\n{"mac":"0000000000000003","data":""}' | seed rl_rpc sign-no-key
printf 'packets\n{"mac":"ffffffffffffffff"}' | seed rl_rpc unknown-gateway
printf 'reboot\n{}' | seed rl_rpc no-such-method

# --- http_request: METHOD PATH, headers, blank line, body -------------------
printf 'GET /gateways\nX-API-Key: read-key\n\n' | seed http_request gateways
printf 'GET /gateways/b827ebfffe6a3c10/packets\nAuthorization: Bearer read-key\n\n' |
	seed http_request packets
printf 'POST /gateways/B8-27-EB-FF-FE-6A-3C-10/sign\nX-API-Key: write-key\nContent-Length: 24\n\n{"data":"aGVsbG8gd29y"}\n' |
	seed http_request sign
printf 'GET /events?mac=b827ebfffe6a3c10&x=1\nX-API-Key: read-key\nLast-Event-ID: 1000002\n\n' |
	seed http_request events-resume
printf 'DELETE /healthz\nTransfer-Encoding: chunked\n\n' | seed http_request chunked
printf 'POST /gateways/zz/sign\nContent-Length: 99999999999999\n\n' | seed http_request bad-length
printf 'GET /metrics\nLast-Event-ID: 12345678901234567890123456789012345\n\n' |
	seed http_request long-event-id

# --- apigw_mqtt: topic line, payload; messages separated by \n--\n ----------
{
	printf 'retained lorawan/b827ebfffe6a3c10/state\n{"mac":"b827ebfffe6a3c10","online":true,"addr":"10.0.0.2:1700","protocol":2,"bridge":"b1","since":"2026-11-21T09:00:00Z","last_seen":"2026-11-21T10:00:00.5Z"}'
	printf '\n--\nretained lorawan/b827ebfffe6a3c10/hotspot\n{"mac":"b827ebfffe6a3c10","public_key":"112qB3YaH5bZkCnKA5uRH7tBtGNv2Y5B4smv1jsmvGUzgKT71QpE","region":"US915","router":"connected","connected_since":"2026-11-21T09:00:01Z","uplinks":7,"downlinks":1}'
	printf '\n--\nlorawan/b827ebfffe6a3c10/up\n'
	cat "$fx/routerlink/eu868_data_fport.json"
	printf '\n--\nlorawan/b827ebfffe6a3c10/down\n'
	cat "$fx/gwmp/down-lora-class-a.json"
	printf '\n--\nlorawan/b827ebfffe6a3c10/ack\n{"mac":"b827ebfffe6a3c10","id":"dl-7f3a","error":"TOO_LATE","detail":"x"}'
	printf '\n--\nlorawan/b827ebfffe6a3c10/status\n{"mac":"b827ebfffe6a3c10","stat":{"lati":46.2,"long":6.1,"alti":400}}'
	printf '\n--\nlorawan/b827ebfffe6a3c10/state\n{"mac":"b827ebfffe6a3c10","online":false,"bridge":"b1"}'
} | seed apigw_mqtt gateway-life
{
	printf 'lorafleet/bridge/b1/metrics\n{"families":[{"name":"udp_received_total","type":"counter","help":"GWMP datagrams received, by type","series":[{"labels":{"type":"push_data"},"value":12},{"labels":{"reason":"a\\"b\\\\c\\nd"},"value":1}]},{"name":"gateways_online","type":"gauge","help":"line1\\nline2","series":[{"labels":{},"value":2.5}]}]}'
	printf '\n--\nlorafleet/bridge/b1/state\n{"online":true,"version":"0.1.0","started_at":"2026-11-21T09:00:00Z"}'
	printf '\n--\nlorafleet/routerlink/r1/state\n{"online":false}'
} | seed apigw_mqtt service-metrics
printf '{"status":200,"packets":[{"direction":"up","rssi":-57}]}' | seed apigw_mqtt rpc-reply-packets
printf 'lorawan/B8:27:EB:FF:FE:6A:3C:10/hotspot\n{"router":"backoff","public_key":null}' |
	seed apigw_mqtt hotspot-disabled

# --- config: INI files -------------------------------------------------------
for f in "$fx"/config/*.ini; do
	seed config "$(basename "$f" .ini)" <"$f"
done
seed config lorafleet <lorafleet.ini
printf '\xef\xbb\xbf[routerlink]\nregion = EU868\nshard = 1/4\nrouter_uri = https://[::1]:8443/x\nqueue_max_age = 1.5m\n[apigw]\nhttp_bind = :0\nmax_body = 65536\n' |
	seed config bom-routerlink-apigw
# Regression (a value beginning with ';' did not survive --check-config).
printf '[mqtt]\ntopic_prefix =; lorawan/eu\n' | seed config value-semicolon
