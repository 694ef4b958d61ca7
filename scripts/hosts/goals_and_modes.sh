#!/bin/sh
# Runs goals_and_modes.py against kelp or the real Codex, each in a network namespace of its own
# (loopback only) with the fake server, as turn_order.sh runs its turn:
#
#   unshare -rn scripts/hosts/goals_and_modes.sh kelp  [SCENARIO]
#   unshare -rn scripts/hosts/goals_and_modes.sh codex [SCENARIO]   # CODEX: path to codex 0.169
#
# SCENARIO is the fake's (default `goal`: a step per turn, complete at the third).
DRIVER=goals_and_modes.py exec "$(dirname "$0")/turn_order.sh" "${1:-kelp}" "${2:-goal}"
