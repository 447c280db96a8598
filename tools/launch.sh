# Sourced by tools/dist_*.sh and tools/slurm_*.sh (see their usage lines for the variables read).
TOOLS=$(dirname "$0")

# usage_or_exit MIN_ARGS "$@": the calling script's "# " lines (from line 2 to its `set` line) for
# -h/--help (exit 0) or when fewer than MIN_ARGS arguments are given (on stderr, exit 2).
usage_or_exit() {
    local min=$1 usage
    shift
    if [[ $# -ge $min && $1 != -h && $1 != --help ]]; then return 0; fi
    usage=$(sed -n '2,/^set /{/^# /s/^# //p}' "$0")
    if [[ $# -ge 1 && ( $1 == -h || $1 == --help ) ]]; then echo "$usage"; exit 0; fi
    echo "$usage" >&2
    exit 2
}

# dist_run GPUS TOOL ARGS...: torchrun GPUS processes per node of tools/TOOL ARGS...
dist_run() {
    local gpus=$1 tool=$2
    shift 2
    if ! [[ $gpus =~ ^[1-9][0-9]*$ ]]; then
        echo "$(basename "$0"): GPUS must be a whole number >= 1 (processes per node)," \
            "got '$gpus'" >&2
        exit 2
    fi
    PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}" \
    "${PYTHON:-python}" -m torch.distributed.run --nnodes="${NNODES:-1}" \
        --node_rank="${NODE_RANK:-0}" --master_addr="${MASTER_ADDR:-127.0.0.1}" \
        --nproc_per_node="$gpus" --master_port="${PORT:-29500}" "$TOOLS/$tool" "$@"
}

# slurm_run PARTITION JOB_NAME TOOL ARGS...: srun GPUS tasks of tools/TOOL ARGS...
slurm_run() {
    local partition=$1 job_name=$2 tool=$3 gpus_per_node=${GPUS_PER_NODE:-8}
    shift 3
    export MASTER_PORT=${MASTER_PORT:-$((12000 + RANDOM % 20000))}
    # shellcheck disable=SC2086
    PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}" \
    srun -p "$partition" --job-name="$job_name" --gres=gpu:"$gpus_per_node" \
        --ntasks="${GPUS:-8}" --ntasks-per-node="$gpus_per_node" \
        --cpus-per-task="${CPUS_PER_TASK:-5}" --kill-on-bad-exit=1 ${SRUN_ARGS:-} \
        "${PYTHON:-python}" -u "$TOOLS/$tool" "$@"
}
