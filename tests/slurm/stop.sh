#!/usr/bin/env bash
# Stop exactly the daemons that tests/slurm/start.sh started (by the PIDs it recorded in its run
# directory), never any other Slurm or munge on this machine, and remove the config symlink it
# made. Idempotent; keeps the run directory (logs) for inspection.
set -uo pipefail

RUN=${RD_SLURM_RUN_DIR:-/tmp/recall_distortion-slurm}

ours() {  # ours PIDFILE NAME: print the PID if it is alive and still the program NAME
    local pid
    [ -s "$1" ] || return 1
    pid=$(cat "$1")
    # A stale PID may belong to someone else by now: check the program name.
    [ -d "/proc/$pid" ] && grep -q "$2" "/proc/$pid/comm" 2>/dev/null && echo "$pid"
}

# Jobs first (they are this test cluster's only), so that no job step outlives its slurmd.
if ours "$RUN/slurmctld.pid" slurmctld >/dev/null; then
    SLURM_CONF="$RUN/slurm.conf" timeout 10 scancel --user="$(id -un)" --full 2>/dev/null || true
fi

declare -A pids=()
for name in slurmd slurmctld munged; do
    if pid=$(ours "$RUN/$name.pid" "$name"); then
        pids[$name]=$pid
        kill -TERM "$pid" 2>/dev/null
    fi
done
for name in "${!pids[@]}"; do
    pid=${pids[$name]}
    for _ in $(seq 1 100); do
        [ -d "/proc/$pid" ] || break
        sleep 0.1
    done
    if [ -d "/proc/$pid" ]; then
        echo "stop.sh: $name ($pid) ignored SIGTERM for 10 s, sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null
    fi
    echo "stop.sh: stopped $name ($pid)" >&2
done
rm -f "$RUN/slurmd.pid" "$RUN/slurmctld.pid" "$RUN/munged.pid" "$RUN/munge/munged.pid"

if [ -L /etc/slurm/slurm.conf ] && [ "$(readlink /etc/slurm/slurm.conf)" = "$RUN/slurm.conf" ]; then
    rm -f /etc/slurm/slurm.conf
fi
exit 0
