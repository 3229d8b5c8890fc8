#!/usr/bin/env bash
# ctest deploy/compose_config: docker-compose.yml is valid for Debian 12's
# docker-compose (1.29) and has what docs/operations.md promises.
#
#   tests/deploy/compose_config.sh SOURCE_DIR
#
# Runs `docker-compose config -q` on it in a scratch project directory whose
# broker-config/secrets/ is made by the real broker-config/mkcerts (so the
# env_file names are the ones mkcerts writes), then checks the resolved
# configuration: the four services, the daemons configured only through
# LORAFLEET_* variables and their own user's env file, health checks,
# restart policies, depends_on service_healthy, the keys volume, the
# published ports, read-only broker configuration. No Docker engine is
# needed (none is started). Skipped (exit 77) only when docker-compose is
# not installed; scripts/deps installs it.
set -euo pipefail
src=$(cd "${1:?usage: compose_config.sh SOURCE_DIR}" && pwd)
compose_file=$src/docker-compose.yml

if ! command -v docker-compose >/dev/null 2>&1; then
	echo "SKIP: docker-compose is not installed (scripts/deps installs Debian's docker-compose)"
	exit 77
fi
docker-compose version --short

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
project=$tmp/project
mkdir -p "$project/broker-config"
ln -s "$src/broker-config/mosquitto.conf" "$src/broker-config/acl" "$project/broker-config/"
ln -s "$src/Dockerfile" "$project/Dockerfile"
"$src/broker-config/mkcerts" -o "$project/broker-config/secrets" >/dev/null 2>&1 || {
	echo "FAIL: broker-config/mkcerts failed" >&2
	"$src/broker-config/mkcerts" -o "$tmp/mkcerts-again" >&2 || true
	exit 1
}

# Host settings must not leak into the check.
unset LORAFLEET_ROUTERLINK_REGION LORAFLEET_ROUTERLINK_ROUTER_URI LORAFLEET_API_PUBLISH \
	LORAFLEET_APIGW_READ_API_KEY LORAFLEET_APIGW_WRITE_API_KEY
dc() { docker-compose -f "$compose_file" --project-directory "$project" "$@"; }

if ! dc config -q 2>"$tmp/err"; then
	echo "FAIL: docker-compose config rejects docker-compose.yml:" >&2
	cat "$tmp/err" >&2
	exit 1
fi
cat "$tmp/err"
echo "ok: docker-compose config -q"
dc config >"$tmp/resolved.yml"

# The resolved file (secrets included) stays in $tmp; only findings are printed.
python3 - "$tmp/resolved.yml" "$src" <<'PY'
import os, sys, yaml

cfg = yaml.safe_load(open(sys.argv[1]))
src = sys.argv[2]
errors = []

def check(cond, msg):
    if not cond:
        errors.append(msg)

services = cfg.get("services", {})
check(sorted(services) == ["apigw", "bridge", "mosquitto", "routerlink"],
      f"services are {sorted(services)}, want apigw, bridge, mosquitto, routerlink")

daemons = {"bridge": "lorafleet-bridge", "routerlink": "lorafleet-routerlink",
           "apigw": "lorafleet-apigw"}

def ports(svc):
    out = []
    for p in svc.get("ports", []):
        if isinstance(p, dict):
            out.append((str(p.get("published")), int(p["target"]), p.get("protocol", "tcp")))
        else:
            spec, _, proto = str(p).partition("/")
            parts = spec.split(":")
            out.append((":".join(parts[:-1]), int(parts[-1]), proto or "tcp"))
    return out

for name, svc in services.items():
    check(svc.get("restart") == "unless-stopped", f"{name}: restart is not unless-stopped")
    hc = svc.get("healthcheck", {})
    check(hc.get("test") and not hc.get("disable"), f"{name}: no health check")

mq = services.get("mosquitto", {})
check(str(mq.get("image", "")).startswith("eclipse-mosquitto:2.0"),
      "mosquitto: not the official eclipse-mosquitto:2.0 image")
mounts = {}
for v in mq.get("volumes", []):
    parts = v.split(":") if isinstance(v, str) else [v["source"], v["target"], "ro" if v.get("read_only") else "rw"]
    mounts[parts[1]] = parts
for target, source in (("/mosquitto/config/mosquitto.conf", "broker-config/mosquitto.conf"),
                       ("/mosquitto/config/acl", "broker-config/acl"),
                       ("/mosquitto/secrets", "broker-config/secrets")):
    m = mounts.get(target)
    check(m is not None, f"mosquitto: nothing mounted at {target}")
    if m:
        check(m[0].endswith("/" + source), f"mosquitto: {target} comes from {m[0]}, not {source}")
        check(len(m) > 2 and m[2] == "ro", f"mosquitto: {target} is not read-only")
        if source != "broker-config/secrets":
            check(os.path.exists(os.path.join(src, source)), f"{source} does not exist")
m = mounts.get("/mosquitto/data")
check(m is not None and m[0] in cfg.get("volumes", {}), "mosquitto: /mosquitto/data is not a named volume")
check(("127.0.0.1", 1883, "tcp") not in ports(mq) and all(p[1] != 1883 for p in ports(mq)),
      "mosquitto: the plain listener 1883 is published")

for name, binary in daemons.items():
    svc = services.get(name, {})
    check(svc.get("build") is not None, f"{name}: not built from the Dockerfile")
    cmd = svc.get("command") or []
    check(cmd[:1] == [binary], f"{name}: command is {cmd}, want {binary}")
    env = svc.get("environment", {})
    other = [k for k in env if not k.startswith("LORAFLEET_")]
    check(not other, f"{name}: environment other than LORAFLEET_*: {other}")
    check(env.get("LORAFLEET_MQTT_USERNAME") == name,
          f"{name}: LORAFLEET_MQTT_USERNAME is {env.get('LORAFLEET_MQTT_USERNAME')!r}, "
          f"want {name!r} (from broker-config/secrets/{name}.env)")
    check(bool(env.get("LORAFLEET_MQTT_PASSWORD")), f"{name}: no LORAFLEET_MQTT_PASSWORD")
    check(env.get("LORAFLEET_MQTT_HOST") == "mosquitto", f"{name}: LORAFLEET_MQTT_HOST is not mosquitto")
    check(bool(env.get("LORAFLEET_MQTT_PORT")), f"{name}: no LORAFLEET_MQTT_PORT (its health check reads it)")
    dep = (svc.get("depends_on") or {}).get("mosquitto", {})
    check(dep.get("condition") == "service_healthy",
          f"{name}: does not wait for a healthy mosquitto (depends_on condition service_healthy)")
    instance = env.get("LORAFLEET_%s_INSTANCE" % name.upper())
    check(bool(instance), f"{name}: no fixed LORAFLEET_{name.upper()}_INSTANCE (the default is the container id)")

rl = services.get("routerlink", {})
keys = [v for v in rl.get("volumes", []) if (v.split(":")[1] if isinstance(v, str) else v["target"]) == "/var/lib/lorafleet/keys"]
check(keys and (keys[0].split(":")[0] if isinstance(keys[0], str) else keys[0]["source"]) in cfg.get("volumes", {}),
      "routerlink: /var/lib/lorafleet/keys is not a named volume")
check(rl.get("environment", {}).get("LORAFLEET_ROUTERLINK_KEYS_DIR") == "/var/lib/lorafleet/keys",
      "routerlink: LORAFLEET_ROUTERLINK_KEYS_DIR is not /var/lib/lorafleet/keys")

check(any(p[1] == 1680 and p[2] == "udp" for p in ports(services.get("bridge", {}))),
      "bridge: UDP 1680 is not published")
ag = services.get("apigw", {})
bind = ag.get("environment", {}).get("LORAFLEET_APIGW_HTTP_BIND", "")
check(bind.startswith("0.0.0.0:"), f"apigw: LORAFLEET_APIGW_HTTP_BIND {bind!r} is not reachable from outside the container")
api_port = int(bind.rpartition(":")[2] or 0)
check(any(p[1] == api_port and p[2] == "tcp" for p in ports(ag)), f"apigw: port {api_port} is not published")
check("/healthz" in " ".join(ag.get("healthcheck", {}).get("test", [])), "apigw: health check is not /healthz")

for e in errors:
    print("FAIL:", e, file=sys.stderr)
if errors:
    sys.exit(1)
print("ok: services, environment, health checks, restarts, depends_on, volumes and ports")
PY
