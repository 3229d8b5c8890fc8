# One image for the three lorafleet daemons (the compose service picks the
# command): lorafleet-bridge, lorafleet-routerlink, lorafleet-apigw.
#
#   docker build -t lorafleet .
#   docker run --rm lorafleet lorafleet-bridge --help
#
# Configured only through LORAFLEET_<SECTION>_<KEY> environment variables
# (docs/config.md); no configuration file and no secret is in the image.
# docker-compose.yml runs it; docs/operations.md, "Deploy with docker compose".
#
# The apt-get install lists below are checked against scripts/deps by
# tests/deploy/docker_packages.sh (ctest -L deploy): the build stage installs
# `scripts/deps --list build`, the runtime stage `scripts/deps --list
# runtime` plus ca-certificates and curl.

# --- Build ------------------------------------------------------------------
FROM debian:bookworm-slim AS build
RUN apt-get update \
	&& apt-get install -y --no-install-recommends \
		build-essential cmake pkg-config protobuf-c-compiler \
		libmosquitto-dev libcjson-dev libsodium-dev libinih-dev \
		libgrpc-dev libprotobuf-c-dev libwebsockets-dev \
	&& rm -rf /var/lib/apt/lists/*
WORKDIR /src
# .dockerignore keeps build trees, run/, node_modules and
# broker-config/secrets/ out of the context.
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release \
		-DLF_BUILD_TESTS=OFF -DLF_BUILD_BENCH=OFF \
	&& cmake --build /build -j"$(nproc)" \
	&& cmake --install /build --prefix /stage/usr/local --strip

# --- Runtime ----------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
# The runtime library of each -dev package above; ca-certificates for an
# https:// router_uri or a broker certificate from a public CA; curl for
# apigw's health check (GET /healthz).
RUN apt-get update \
	&& apt-get install -y --no-install-recommends \
		libmosquitto1 libcjson1 libsodium23 libinih1 \
		libgrpc29 libprotobuf-c1 libwebsockets17 \
		ca-certificates curl \
	&& rm -rf /var/lib/apt/lists/*
# A fixed uid/gid, so that volumes keep their owner across rebuilds. The
# key directory is made here, owned by lorafleet and 0700 as routerlink
# wants it: a new named volume mounted on it starts as a copy of it.
RUN groupadd --gid 10001 lorafleet \
	&& useradd --uid 10001 --gid lorafleet --home-dir /var/lib/lorafleet \
		--no-create-home --shell /usr/sbin/nologin lorafleet \
	&& install -d -o lorafleet -g lorafleet -m 0700 /var/lib/lorafleet /var/lib/lorafleet/keys
# Only the daemons: whatever else `cmake --install` puts in the staging
# prefix (the example lorafleet.ini, systemd units) is for host installs.
COPY --from=build /stage/usr/local/bin/lorafleet-bridge /stage/usr/local/bin/lorafleet-routerlink \
	/stage/usr/local/bin/lorafleet-apigw /usr/local/bin/
USER lorafleet:lorafleet
WORKDIR /var/lib/lorafleet
# routerlink keeps the Hotspot keys in /var/lib/lorafleet/keys (its default
# keys_dir): mount a named volume there and back it up. No VOLUME line, so
# that bridge and apigw containers get no anonymous volume they never use.
# GWMP (bridge) and HTTP (apigw, with LORAFLEET_APIGW_HTTP_BIND=0.0.0.0:8080).
EXPOSE 1680/udp 8080/tcp
# The daemons handle SIGTERM themselves (clean shutdown: gateways and the
# daemon marked offline first) and start no children, so they run as PID 1.
STOPSIGNAL SIGTERM
CMD ["lorafleet-bridge"]
