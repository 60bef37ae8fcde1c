#!/usr/bin/env bash
# Start a private, single-node Slurm on this machine for tests: munged + slurmctld + slurmd on
# localhost, no accounting (no slurmdbd), two fake GPUs as GRES so `--gpus=1` jobs get
# CUDA_VISIBLE_DEVICES like on a real GPU node.
#
# Idempotent: a second call finds the running daemons and only prints the environment. Everything
# (config, keys, state, logs, PIDs) lives in one run directory; the only thing outside it (besides
# /dev/fakegpu*) is a symlink /etc/slurm/slurm.conf -> the run directory's config, made only when
# no config is there (see link_conf). tests/slurm/stop.sh stops exactly the daemons started here,
# by PID, and removes that symlink.
#
#   tests/slurm/start.sh            # prints `export SLURM_CONF=...`; eval it or source $RUN/env.sh
#   . /tmp/recall_distortion-slurm/env.sh && sinfo && srun --gpus=1 env | grep CUDA_VISIBLE
#
# Environment: RD_SLURM_RUN_DIR (default /tmp/recall_distortion-slurm), RD_SLURM_GPUS (2),
# RD_SLURM_CPUS (the machine's cores, at least 4: more than the machine has is allowed, so that
# two 2-CPU GPU jobs run side by side on a 2-core CI box), RD_SLURM_PORT (6817; slurmd uses the
# next port). Exit status: 0 running, 1 did not start, 3 could not install the packages, 4 another
# Slurm's config is at /etc/slurm/slurm.conf. Needs root (slurmd runs jobs as their user,
# mknod for the fake GPUs, apt-get when the packages are missing).
set -euo pipefail

RUN=${RD_SLURM_RUN_DIR:-/tmp/recall_distortion-slurm}
N_GPUS=${RD_SLURM_GPUS:-2}
CTLD_PORT=${RD_SLURM_PORT:-6817}
SLURMD_PORT=$((CTLD_PORT + 1))
HOST=$(hostname -s)

log() { echo "start.sh: $*" >&2; }

alive() {  # alive PIDFILE NAME: the PID in PIDFILE is running and is the program NAME
    local pid
    [ -s "$1" ] || return 1
    pid=$(cat "$1")
    [ -d "/proc/$pid" ] && grep -q "$2" "/proc/$pid/comm" 2>/dev/null
}

ready() { SLURM_CONF="$RUN/slurm.conf" sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; }

print_env() {
    echo "export SLURM_CONF=$RUN/slurm.conf"
}

# Client commands must also find the config at Slurm's compiled-in default path: the slurm-jobstep
# executor drops SLURM_CONF (every SLURM_* but the job ids) before its inner `srun`, which then
# fails with "Could not establish a configuration source". A symlink, only if no other Slurm
# config is there; stop.sh removes it again.
SYS_CONF=/etc/slurm/slurm.conf
link_conf() {
    if [ -L "$SYS_CONF" ] && [ "$(readlink "$SYS_CONF")" = "$RUN/slurm.conf" ]; then
        return 0
    elif [ -e "$SYS_CONF" ] || [ -L "$SYS_CONF" ]; then
        log "$SYS_CONF exists and is not ours: refusing to replace another Slurm's config"
        exit 4
    fi
    mkdir -p "$(dirname "$SYS_CONF")"
    ln -s "$RUN/slurm.conf" "$SYS_CONF"
}

if alive "$RUN/munged.pid" munged && alive "$RUN/slurmctld.pid" slurmctld \
        && alive "$RUN/slurmd.pid" slurmd && ready; then
    link_conf
    log "already running (run dir $RUN)"
    print_env
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    log "needs root (slurmd, mknod, apt-get)"; exit 1
fi

# --- install -------------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
        || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    log "installing slurmctld slurmd slurm-client munge"
    export DEBIAN_FRONTEND=noninteractive
    pkgs="slurmctld slurmd slurm-client munge"
    if ! apt-get install -y -q --no-install-recommends $pkgs >/dev/null 2>&1; then
        # exit status 3: could not install (no network, no apt); tests skip on it
        { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $pkgs >/dev/null; } \
            || { log "could not install $pkgs"; exit 3; }
    fi
fi

# Half-started leftovers from an earlier call: stop them first (only ours, by PID).
"$(dirname "$0")/stop.sh" >/dev/null 2>&1 || true

# --- configure -----------------------------------------------------------------------------
mkdir -p "$RUN"/{state,spool,log}
chmod 755 "$RUN"

# munged: private key and socket; it insists that it is not run as root, so it runs as `munge`.
if [ ! -s "$RUN/munge.key" ]; then
    dd if=/dev/urandom of="$RUN/munge.key" bs=1024 count=1 status=none
fi
mkdir -p "$RUN/munge"
chown munge:munge "$RUN/munge.key" "$RUN/munge"
chmod 600 "$RUN/munge.key"; chmod 755 "$RUN/munge"

# Fake GPUs: character devices (same major/minor as /dev/null, so opening one is harmless).
gpu_files=()
for ((i = 0; i < N_GPUS; i++)); do
    f=/dev/fakegpu$i
    [ -c "$f" ] || mknod -m 666 "$f" c 1 3
    gpu_files+=("$f")
done

cpus=${RD_SLURM_CPUS:-$(( $(nproc) < 4 ? 4 : $(nproc) ))}
mem_mb=$(free -m | awk '/^Mem:/ {print int($2 * 0.9)}')   # below the real size, or slurmd drains
cat > "$RUN/slurm.conf" <<CONF
# Written by tests/slurm/start.sh: one node, no accounting, no cgroups.
ClusterName=rdtest
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$RUN/munge/munge.socket
StateSaveLocation=$RUN/state
SlurmdSpoolDir=$RUN/spool
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$RUN/log/slurmctld.log
SlurmdLogFile=$RUN/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
GresTypes=gpu
# squeue still lists a finished job for MinJobAge seconds: the executor's squeue status check
# needs this (>= 3x its first status-check delay).
MinJobAge=600
ReturnToService=2
# Trust the CPU count above even where it exceeds the hardware (else slurmd drains the node).
SlurmdParameters=config_overrides
SlurmdTimeout=60
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb Gres=gpu:$N_GPUS State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
{
    echo "AutoDetect=off"
    for f in "${gpu_files[@]}"; do echo "NodeName=$HOST Name=gpu File=$f"; done
} > "$RUN/gres.conf"
print_env > "$RUN/env.sh"

link_conf

# --- start ---------------------------------------------------------------------------------
export SLURM_CONF="$RUN/slurm.conf"
runuser -u munge -- munged --socket="$RUN/munge/munge.socket" --key-file="$RUN/munge.key" \
    --pid-file="$RUN/munge/munged.pid" --log-file="$RUN/munge/munged.log" \
    --seed-file="$RUN/munge/munged.seed"
cp "$RUN/munge/munged.pid" "$RUN/munged.pid"
slurmctld -c      # -c: start clean, without jobs left in the state of an earlier run
slurmd

for _ in $(seq 1 100); do
    if ready; then
        log "running: $(sinfo -h -o '%N %c CPUs %m MB %G %T')"
        print_env
        exit 0
    fi
    sleep 0.2
done
log "Slurm did not come up within 20 s; see $RUN/log/"
sinfo -N -l >&2 || true
tail -n 20 "$RUN"/log/*.log >&2 || true
exit 1
