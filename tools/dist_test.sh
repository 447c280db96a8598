#!/usr/bin/env bash
# Usage: bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args...]
# Multi-node: NNODES=2 NODE_RANK=0|1 MASTER_ADDR=<node 0> PORT=29500 on every node.
# Without a GPU each process runs on the CPU with the gloo backend.
set -euo pipefail
source "$(dirname "$0")/launch.sh"
usage_or_exit 3 "$@"
dist_run "$3" test.py "$1" "$2" --launcher pytorch "${@:4}"
