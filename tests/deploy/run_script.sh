#!/usr/bin/env bash
# scripts/run, end to end, as a user runs it: the deployment broker
# configuration on loopback, the three daemons each as its own MQTT user,
# the banner's API key and consumer password work, a gateway's uplink
# reaches the broker and the API, and Ctrl-C stops everything.
#
#   run_script.sh SOURCE_DIR WORK_DIR
set -euo pipefail
src=$1
work=$2
mkdir -p "$work"
rm -rf "$work/run"
out=$work/run.out

fail() {
	echo "FAIL: $*" >&2
	echo "---- scripts/run output" >&2
	tail -n 40 "$out" >&2 || true
	echo "---- mosquitto log" >&2
	tail -n 20 "$work/run/mosquitto.log" >&2 || true
	exit 1
}

# A port is taken when any socket has it as its local port (a listener, or
# a connection: those make bind() fail too). Picked below the kernel's
# ephemeral range (32768-60999), where other tests' connections live.
taken() { # tcp|udp port
	cat "/proc/net/$1" "/proc/net/${1}6" 2>/dev/null |
		grep -qi "^ *[0-9]*: [0-9A-F]*:$(printf '%04X' "$2") "
}
free_port() { # tcp|udp
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 12000))
		taken "$1" "$p" || { echo "$p"; return; }
	done
	fail "no free $1 port"
}
mqtt=$(free_port tcp)
tls=$(free_port tcp)
udp=$(free_port udp)
http=$(free_port tcp)

# Its own process group, to be interrupted as a terminal's Ctrl-C would.
# The router address is a closed local port: the test needs no Internet.
LF_RUN_BUILD_DIR=$work/build LF_RUN_DIR=$work/run LORAFLEET_MQTT_PORT=$mqtt \
	LF_RUN_TLS_PORT=$tls LORAFLEET_BRIDGE_UDP_BIND=127.0.0.1:$udp \
	LORAFLEET_APIGW_HTTP_BIND=127.0.0.1:$http LORAFLEET_ROUTERLINK_ROUTER_URI=http://127.0.0.1:1 \
	setsid "$src/scripts/run" >"$out" 2>&1 &
pid=$!
cleanup() { kill -KILL -- -"$pid" 2>/dev/null || true; }
trap cleanup EXIT

# The build comes first: allow for it.
for _ in $(seq 600); do
	grep -q '^lorafleet is running\.' "$out" && break
	kill -0 "$pid" 2>/dev/null || fail "scripts/run exited before it was running"
	sleep 0.5
done
grep -q '^lorafleet is running\.' "$out" || fail "no banner after 300 s"

read_key=$(sed -n "s/.*X-API-Key: \([0-9a-f]*\)'.*/\1/p" "$out" | head -n1)
consumer=$(sed -n 's/.*-u consumer -P \([^ ]*\) .*/\1/p' "$out" | head -n1)
[ -n "$read_key" ] || fail "no API key in the banner"
[ -n "$consumer" ] || fail "no consumer password in the banner"

# The API: the key from the banner is the one apigw wants.
# A loaded machine may print the banner a moment before apigw listens;
# every failure here must say what it was (set -e alone exits silently).
code=000
for _ in $(seq 50); do
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http/gateways" || true)
	[ "$code" != 000 ] && break
	sleep 0.2
done
[ "$code" = 401 ] || fail "GET /gateways without the key: $code, expected 401"
body=$(curl -sf -H "X-API-Key: $read_key" "http://127.0.0.1:$http/gateways") ||
	fail "GET /gateways with the banner's key failed"
grep -q '"total":0' <<<"$body" || fail "unexpected /gateways: $body"

# The broker: anonymous access refused, the consumer sees the daemons' births.
if mosquitto_sub -h 127.0.0.1 -p "$mqtt" -t '#' -C 1 -W 2 >/dev/null 2>&1; then
	fail "the broker let an anonymous client in"
fi
states=$(mosquitto_sub -h 127.0.0.1 -p "$mqtt" -u consumer -P "$consumer" \
	-t 'lorafleet/+/+/state' -v -W 3 2>/dev/null || true)
for svc in bridge routerlink apigw; do
	grep -q "^lorafleet/$svc/[^/]*/state {\"online\":true" <<<"$states" ||
		fail "no online state from $svc: $states"
done

# A gateway: PULL_DATA then PUSH_DATA (GWMP v2) to the bridge's port; its
# uplink reaches the consumer and the gateway the API.
mosquitto_sub -h 127.0.0.1 -p "$mqtt" -u consumer -P "$consumer" -t 'lorawan/+/up' \
	-C 1 -W 15 >"$work/up.txt" 2>&1 &
sub=$!
sleep 0.5
eui='\xaa\x55\x5a\x00\x00\x00\x0d\x01'
printf '\x02\x00\x01\x02%b' "$eui" >"/dev/udp/127.0.0.1/$udp"
rxpk='{"rxpk":[{"tmst":1,"freq":904.3,"stat":1,"modu":"LORA","datr":"SF9BW125","codr":"4/5","rssi":-70,"lsnr":9.0,"size":13,"data":"QAQDAgEAAQABqrvM3Q=="}]}'
printf '\x02\x00\x02\x00%b%s' "$eui" "$rxpk" >"/dev/udp/127.0.0.1/$udp"
wait "$sub" || fail "no uplink on lorawan/+/up"
grep -q '"data":"QAQDAgEAAQABqrvM3Q=="' "$work/up.txt" || fail "unexpected up: $(cat "$work/up.txt")"
for _ in $(seq 50); do
	body=$(curl -sf -H "X-API-Key: $read_key" "http://127.0.0.1:$http/gateways/aa555a0000000d01") &&
		grep -q '"online":true' <<<"$body" && break
	sleep 0.2
done
grep -q '"online":true' <<<"$body" || fail "the gateway is not online in the API: $body"

# Ctrl-C: everything stops, the bridge having marked its gateway offline.
kill -INT -- -"$pid"
for _ in $(seq 100); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.2
done
kill -0 "$pid" 2>/dev/null && fail "scripts/run still running 20 s after Ctrl-C"
grep -q '^stopped\.$' "$out" || fail "no clean stop"
if pgrep -f "$work/run" >/dev/null || pgrep -f "$work/build/" >/dev/null; then
	fail "processes left behind: $(pgrep -af "$work/" || true)"
fi
echo "ok: scripts/run: banner, API key, users, an uplink end to end, clean stop"
