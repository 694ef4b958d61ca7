#!/usr/bin/env bash
# Remakes link/startup-text.txt: the functions kelp runs from launch to its first idle frame,
# which a release build lays out side by side (see build.rs). Run it after changes to what the
# client does at start, then rebuild; the budget it serves is in docs/benchmarks.md.
#
# Needs tmux, valgrind (callgrind) and perf; builds the fake server (`examples/fake-openai.rs`)
# for the home in use. Each round builds the release binary (its linker
# map written where KELP_LINK_MAP says), runs it to its first idle frame at
# 80×24 with SSH_CONNECTION set, and adds the functions it touched:
#   round 1: every function a run under callgrind entered: the client's (in an empty home, then
#   in one in use: logins kept, a saved conversation, a log), then those of a client on an
#   app-server (`--remote`) and of the server;
#   later rounds: the functions behind the page faults of real runs of the four (perf), which
#   catch code valgrind's runs took another way around (the sandbox's probes, the CPU's own fast
#   paths, a server that answered its client only after valgrind's settling time).
# It stops when a round finds nothing new, after four rounds at most.
set -euo pipefail
cd "$(dirname "$0")/.."
LIST=link/startup-text.txt
WORK=$(mktemp -d)
export KELP_LINK_MAP="$WORK/kelp.map"
# The servers it starts (under valgrind or perf) name $WORK in their arguments.
FAKE_PID=
trap 'tmux kill-session -t kelp-startup 2>/dev/null || true; pkill -TERM -f "$WORK" || true; [ -z "$FAKE_PID" ] || kill "$FAKE_PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

# Runs "$@" (kelp, under a tool) in an 80×24 tmux window until the client's first frame, then
# waits for it to settle. Leaves the window open. In an empty home with a key in the environment,
# or (RUN_HOME, RUN_KEY empty) in a home in use (`used_home`).
run_to_idle() {
  local home=${RUN_HOME:-$WORK/home}
  local key=${RUN_KEY-OPENAI_API_KEY=sk-startup-text-000000000000}
  mkdir -p "$home/project"
  tmux kill-session -t kelp-startup 2>/dev/null || true
  tmux new-session -d -s kelp-startup -x 80 -y 24 \
    "cd '$home/project' && env -i PATH='$PATH' TERM=xterm-256color HOME='$home' \
     SSH_CONNECTION='10.0.0.1 50000 10.0.0.2 22' $key \
     OPENAI_BASE_URL=http://127.0.0.1:9/v1 KELP_AUTH_ISSUER=http://127.0.0.1:9 \
     KELP_CODEX_BASE_URL=http://127.0.0.1:9/codex KELP_APPROVAL=ask $* ; sleep 60"
  for _ in $(seq 1 600); do
    tmux capture-pane -p -t kelp-startup | grep -q "Ask anything" && break
    sleep 0.1
  done
  sleep "${SETTLE:-3}"
}

# A home in use, made once against the fake server: a ChatGPT login kept beside the key in use,
# a saved conversation and a log. Its client reads at start what an empty home lacks.
used_home() {
  cargo build --example fake-openai
  local fake=http://127.0.0.1:8799
  target/debug/examples/fake-openai --port 8799 > /dev/null 2>&1 &
  FAKE_PID=$!
  sleep 1
  mkdir -p "$WORK/used/project"
  local env=(env -i PATH="$PATH" HOME="$WORK/used" KELP_AUTH_ISSUER=$fake
    KELP_CODEX_BASE_URL=$fake/backend-api/codex OPENAI_BASE_URL=$fake/v1)
  (cd "$WORK/used/project" && "${env[@]}" "$BIN" login --device > /dev/null \
    && echo sk-test-kelp-0000000000000000abcd | "${env[@]}" "$BIN" login --with-api-key --no-check \
    && "${env[@]}" "$BIN" run "echo hi") > /dev/null 2>&1 \
    || echo "the home in use could not be made in full" >&2
  kill "$FAKE_PID"
  FAKE_PID=
}

map() { echo "$KELP_LINK_MAP"; }

add_names() {
  python3 scripts/startup_text.py "$(map)" "$@" > "$WORK/names"
  python3 - "$LIST" "$WORK/names" <<'PY'
import sys
kept = [l.strip() for l in open(sys.argv[1]) if l.strip()]
seen, added = set(kept), 0
for name in (l.strip() for l in open(sys.argv[2])):
    if name and name not in seen:
        seen.add(name); kept.append(name); added += 1
open(sys.argv[1], "w").write("\n".join(kept) + "\n")
print(added)
PY
}

: > "$LIST"
cargo build --release
BIN=$PWD/target/release/kelp
used_home
CALLGRIND=(valgrind --tool=callgrind --demangle=no --callgrind-out-file="$WORK/callgrind.%p")
SETTLE=10 run_to_idle "${CALLGRIND[@]}" "$BIN"
pkill -TERM -f "valgrind[.a-z]* --tool=callgrind .*--callgrind-out-file=$WORK/" || true
sleep 5
RUN_HOME=$WORK/used RUN_KEY='' SETTLE=10 run_to_idle "${CALLGRIND[@]}" "$BIN"
pkill -TERM -f "valgrind[.a-z]* --tool=callgrind .*--callgrind-out-file=$WORK/" || true
sleep 5
# Then a client on a server (`--remote`, `server = "over-ssh"`) and the app-server it runs on,
# both of this binary: their idle paths are laid out behind the lone client's, so a pair stays
# near one client's memory each.
mkdir -p "$WORK/home/run"
(cd "$WORK/home" && env -i PATH="$PATH" HOME="$WORK/home" XDG_RUNTIME_DIR="$WORK/home/run" \
  OPENAI_API_KEY=sk-startup-text-000000000000 OPENAI_BASE_URL=http://127.0.0.1:9/v1 \
  KELP_AUTH_ISSUER=http://127.0.0.1:9 KELP_CODEX_BASE_URL=http://127.0.0.1:9/codex \
  "${CALLGRIND[@]}" "$BIN" app-server --listen unix:// > /dev/null 2>&1 &)
SOCKET="$WORK/home/run/kelp/app-server.sock"
for _ in $(seq 1 600); do [ -S "$SOCKET" ] && break; sleep 0.1; done
SETTLE=10 run_to_idle "${CALLGRIND[@]}" "$BIN" --remote "unix://$SOCKET"
pkill -TERM -f "valgrind[.a-z]* --tool=callgrind .*--callgrind-out-file=$WORK/" || true
sleep 5
# The functions entered in kelp's own code: callgrind names them by address in a stripped
# binary ("fn=(id) 0x…", under the "ob" of the binary).
python3 - "$BIN" "$WORK"/callgrind.* > "$WORK/entered" <<'PY'
import re, sys
binary, objects, names = sys.argv[1], {}, {}
for path in sys.argv[2:]:
    current = None
    for line in open(path, errors="replace"):
        m = re.match(r"^(c?ob)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
        if m:
            kind, key, name = m.groups()
            if name: objects[key] = name
            if kind == "ob": current = objects.get(key)
            continue
        m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
        if m:
            kind, key, name = m.groups()
            if name: names[key] = name
            if kind == "fn" and current == binary and names[key].startswith("0x"):
                print(names[key].split("'")[0])
PY
echo "round 1: $(add_names "$WORK/entered") functions"

# The binary's faulted code addresses in perf's record $1 of the process $2 (whose mapping
# says where the binary starts), before the idle mark $3, one offset a line.
faulted() {
  local base
  base=$(awk -v b="$BIN" '$6==b && $3=="00000000" {split($1,r,"-"); print r[1]; exit}' "/proc/$2/maps")
  echo "$1 $base $3"
}
offsets() {
  perf script -i "$1" -F time,addr 2>/dev/null | python3 -c "
import sys
base, mark = int('$2', 16), $3
for line in sys.stdin:
    time, address = line.split()
    address = int(address, 16)
    if float(time.rstrip(':')) <= mark and base <= address < base + (1 << 26):
        print(hex(address - base))"
}

PERF=(perf record -q --clockid=monotonic -e page-faults -c 1 -d)
for round in 2 3 4; do
  cargo build --release
  : > "$WORK/faulted"
  # The lone client.
  run_to_idle "${PERF[@]}" -o "$WORK/faults.data" -- "$BIN"
  PID=$(pgrep -f "^$BIN$" | head -1)
  LONE=$(faulted "$WORK/faults.data" "$PID" "$(python3 -c 'import time; print(time.monotonic())')")
  kill -TERM "$PID"
  sleep 2
  # The client in a home in use.
  RUN_HOME=$WORK/used RUN_KEY='' run_to_idle "${PERF[@]}" -o "$WORK/used.data" -- "$BIN"
  PID=$(pgrep -f "^$BIN$" | head -1)
  USED=$(faulted "$WORK/used.data" "$PID" "$(python3 -c 'import time; print(time.monotonic())')")
  kill -TERM "$PID"
  sleep 2
  # A server and a client on it.
  rm -f "$SOCKET"
  (cd "$WORK/home" && env -i PATH="$PATH" HOME="$WORK/home" XDG_RUNTIME_DIR="$WORK/home/run" \
    OPENAI_API_KEY=sk-startup-text-000000000000 OPENAI_BASE_URL=http://127.0.0.1:9/v1 \
    KELP_AUTH_ISSUER=http://127.0.0.1:9 KELP_CODEX_BASE_URL=http://127.0.0.1:9/codex \
    "${PERF[@]}" -o "$WORK/server.data" -- "$BIN" app-server --listen unix:// > /dev/null 2>&1 &)
  for _ in $(seq 1 100); do [ -S "$SOCKET" ] && break; sleep 0.1; done
  run_to_idle "${PERF[@]}" -o "$WORK/remote.data" -- "$BIN" --remote "unix://$SOCKET"
  MARK=$(python3 -c 'import time; print(time.monotonic())')
  SERVER=$(pgrep -f "^$BIN app-server --listen unix://$" | head -1)
  CLIENT=$(pgrep -f "^$BIN --remote" | head -1)
  PAIR=("$(faulted "$WORK/server.data" "$SERVER" "$MARK")" "$(faulted "$WORK/remote.data" "$CLIENT" "$MARK")")
  kill -TERM "$CLIENT" "$SERVER"
  sleep 3
  for run in "$LONE" "$USED" "${PAIR[@]}"; do
    # shellcheck disable=SC2086
    offsets $run >> "$WORK/faulted"
  done
  added=$(add_names "$WORK/faulted")
  echo "round $round: $added functions"
  [ "$added" = 0 ] && break
done
cargo build --release
wc -l "$LIST"
