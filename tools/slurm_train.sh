#!/usr/bin/env bash
# Usage: [GPUS=8 GPUS_PER_NODE=8 CPUS_PER_TASK=5 SRUN_ARGS=...] bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [train.py args...]
set -euo pipefail
source "$(dirname "$0")/launch.sh"
usage_or_exit 3 "$@"
slurm_run "$1" "$2" train.py "$3" --launcher=slurm "${@:4}"
