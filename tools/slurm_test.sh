#!/usr/bin/env bash
# Usage: [GPUS=8 GPUS_PER_NODE=8 CPUS_PER_TASK=5 SRUN_ARGS=...] bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py args...]
set -euo pipefail
source "$(dirname "$0")/launch.sh"
usage_or_exit 4 "$@"
slurm_run "$1" "$2" test.py "$3" "$4" --launcher=slurm "${@:5}"
