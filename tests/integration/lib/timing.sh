# timing.sh - sourced by the benchmark script and the E2E tests.

# median_ms COMMAND... : the median wall time of 31 runs of COMMAND, in ms
# (output and exit status ignored)
median_ms() {
    local i t0 t1
    for i in $(seq 31); do
        t0=$(date +%s%N)
        "$@" >/dev/null 2>&1 || true
        t1=$(date +%s%N)
        echo $(((t1 - t0) / 1000))
    done | sort -n | sed -n 16p | awk '{printf "%.1f", $1 / 1000}'
}
