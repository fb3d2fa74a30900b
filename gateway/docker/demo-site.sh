#!/bin/sh
# Demo site: virtual PODs on a virtual BLED112 (a pty), and the gateway collecting from them
# and syncing to the cloud. Both run here because a pty cannot cross containers.
#
# Environment:
#   IOTILE_CLOUD_URL      the cloud's base URL                  [http://cloud:8000]
#   IOTILE_GATEWAY_CODE   one-time registration code (POST /api/v1/gateway/code/ by an org
#                         admin); needed on the first start only
#   IOTILE_GATEWAY_NAME   the name admins see                   [demo-site]
#   DEMO_DEVICES          POD device ids, comma or space separated [0x42]
#   DEMO_SPEED            device seconds per real second        [60]
#   DEMO_STATE_DIR        the volume: key, buffer, POD state    [/var/lib/iotile-gateway]
#   DEMO_STATUS_BIND      the gateway's status API              [127.0.0.1:9780]
set -eu

cloud_url=${IOTILE_CLOUD_URL:-http://cloud:8000}
state=${DEMO_STATE_DIR:-/var/lib/iotile-gateway}
config=${IOTILE_GATEWAY_CONFIG:-$state/gateway.toml}
dongle=$state/bled112

devices=""
for id in $(echo "${DEMO_DEVICES:-0x42}" | tr ',' ' '); do
    devices="$devices --device $id"
done

# 1. The PODs. `pod run` saves their state on SIGINT (its Ctrl-C), so restarts continue.
# shellcheck disable=SC2086 # one --device flag per word
iotile-fw pod run --bled112 --link "$dongle" --state-dir "$state/pods" \
    --speed "${DEMO_SPEED:-60}" $devices &
fw=$!

tries=0
until [ -e "$dongle" ]; do
    kill -0 "$fw" 2>/dev/null || { echo "demo-site: the virtual PODs failed to start" >&2; exit 1; }
    tries=$((tries + 1))
    [ "$tries" -le 100 ] || { echo "demo-site: no dongle at $dongle after 10 s" >&2; exit 1; }
    sleep 0.1
done

# 2. The gateway's configuration: this dongle, this cloud, the volume for its files.
cat > "$config" <<TOML
[cloud]
url = "$cloud_url"

[paths]
buffer = "$state/buffer.sqlite"
key = "$state/gateway.key"

[[adapters]]
kind = "bled112"
port = "$dongle"
max_connections = 2

[status]
bind = "${DEMO_STATUS_BIND:-127.0.0.1:9780}"
TOML

# 3. Registration, once per volume (a code works only once).
if [ ! -e "$state/registered" ]; then
    if [ -z "${IOTILE_GATEWAY_CODE:-}" ]; then
        echo "demo-site: set IOTILE_GATEWAY_CODE to a code from POST /api/v1/gateway/code/" >&2
        kill -INT "$fw"; wait "$fw" || true
        exit 1
    fi
    iotile-gateway --config "$config" register --code "$IOTILE_GATEWAY_CODE" \
        --name "${IOTILE_GATEWAY_NAME:-demo-site}"
    touch "$state/registered"
fi

# 4. The gateway, until `docker stop` (SIGTERM): then stop it first, then save the PODs.
stop() {
    kill -TERM "$gw" 2>/dev/null || true
    wait "$gw" || true
    kill -INT "$fw" 2>/dev/null || true
    wait "$fw" || true
    exit 0
}
trap stop TERM INT
iotile-gateway --config "$config" run &
gw=$!
status=0
wait "$gw" || status=$?
kill -INT "$fw" 2>/dev/null || true
wait "$fw" || true
exit "$status"
