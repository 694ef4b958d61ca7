#!/bin/sh
# What a host runs as "codex": kelp, with the arguments the host gives.
exec "${KELP_BIN:-$(dirname "$0")/../../target/debug/kelp}" "$@"
