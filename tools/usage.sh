# Sourced by tools/dist_*.sh and tools/slurm_*.sh: `usage_or_exit MIN_ARGS "$@"` prints the
# calling script's "# " comment lines (from line 2 up to its `set` line) for -h/--help (exit 0)
# or when fewer than MIN_ARGS arguments are given (to stderr, exit 2).
usage_or_exit() {
    local min=$1 usage
    shift
    if [[ $# -ge $min && $1 != -h && $1 != --help ]]; then return 0; fi
    usage=$(sed -n '2,/^set /{/^# /s/^# //p}' "$0")
    if [[ $# -ge 1 && ( $1 == -h || $1 == --help ) ]]; then echo "$usage"; exit 0; fi
    echo "$usage" >&2
    exit 2
}
