# A demo site: virtual PODs behind a virtual BLED112 and the gateway that collects from it,
# in ONE container, because the dongle is a pty. Build from the repository root:
#   docker build -f gateway/docker/demo-site.Dockerfile .

FROM rust:1-bookworm AS build
# btleplug (in the gateway) talks to BlueZ through libdbus.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libdbus-1-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The release build commands of gateway/Dockerfile and firmware-tools/Dockerfile, in one.
RUN cargo build --release --locked -p gateway -p firmware-tools

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libdbus-1-3 \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10002 --user-group --home-dir /var/lib/iotile-gateway \
        --create-home --shell /usr/sbin/nologin iotile-gateway
COPY --from=build /src/target/release/iotile-gateway /src/target/release/iotile-fw /usr/local/bin/
COPY gateway/docker/demo-site.sh /usr/local/bin/demo-site
USER iotile-gateway
# demo-site writes the configuration here, so `iotile-gateway status` finds it too.
ENV IOTILE_GATEWAY_CONFIG=/var/lib/iotile-gateway/gateway.toml
VOLUME ["/var/lib/iotile-gateway"]
HEALTHCHECK --interval=15s --timeout=10s --start-period=30s --retries=3 \
    CMD ["iotile-gateway", "status"]
ENTRYPOINT ["/usr/local/bin/demo-site"]
