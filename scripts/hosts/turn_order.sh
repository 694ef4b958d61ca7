#!/bin/sh
# Prints the order in which an app-server sends a turn's notifications, for kelp or the real
# Codex, each in a network namespace of its own (loopback only) with the fake server:
#
#   unshare -rn scripts/hosts/turn_order.sh kelp  [SCENARIO]
#   unshare -rn scripts/hosts/turn_order.sh codex [SCENARIO]   # CODEX: path to codex 0.169
#
# SCENARIO is the fake's (default `coding`: a command, then a patch, both asked about).
# DRIVER is the script that drives the server (default `turn_order.py`).
set -e
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
who=${1:-kelp}
scenario=${2:-coding}
work=$(mktemp -d)
mkdir -p "$work/project" && git -C "$work/project" init -q
ip link set lo up
"$root/target/debug/examples/fake-openai" --port 8765 --scenario "$scenario" >"$work/fake.log" 2>&1 &
fake=$!
trap 'kill $fake 2>/dev/null; rm -rf "$work"' EXIT
sleep 0.5
export PROJECT="$work/project" OPENAI_API_KEY=sk-test-kelp-0000000000000000abcd
if [ "$who" = codex ]; then
  mkdir -p "$work/codex"
  cat >"$work/codex/config.toml" <<TOML
model = "gpt-5.5"
model_provider = "fake"
check_for_update_on_startup = false

[model_providers.fake]
name = "fake"
base_url = "http://127.0.0.1:8765/v1"
env_key = "OPENAI_API_KEY"
wire_api = "responses"
TOML
  CODEX_HOME="$work/codex" python3 "$here/${DRIVER:-turn_order.py}" "${CODEX:-codex}" app-server
else
  HOME="$work" OPENAI_BASE_URL=http://127.0.0.1:8765/v1 KELP_AUTH_ISSUER=http://127.0.0.1:8765 \
    KELP_CODEX_BASE_URL=http://127.0.0.1:8765/backend-api/codex \
    python3 "$here/${DRIVER:-turn_order.py}" "$root/target/debug/kelp" app-server
fi
