#!/usr/bin/env bash
# A throwaway one-node Slurm for tests, everything under one folder (no /etc, no system services):
#   slurm-cluster.sh start DIR   writes DIR/slurm.conf, starts munged, slurmctld and slurmd, waits for the node
#   slurm-cluster.sh stop DIR    stops the three daemons it started (by their pid files) and waits for them
# Then `export SLURM_CONF=DIR/slurm.conf` points sbatch, squeue, scancel and scontrol at it.
# Needs root (slurmd starts jobs as their user) and Debian's slurm-wlm and munge. Ports are picked free so
# that two clusters on one machine do not meet; munge uses its own key and socket in DIR.
set -euo pipefail
cmd=${1:?start|stop}; dir=$(mkdir -p "${2:?DIR}" && cd "$2" && pwd)

stop() {
  local pids=()
  for d in slurmd slurmctld munged; do
    if [ -f "$dir/$d.pid" ]; then
      local pid; pid=$(cat "$dir/$d.pid")
      if kill "$pid" 2>/dev/null; then pids+=("$pid"); fi
      rm -f "$dir/$d.pid"
    fi
  done
  # wait until they are gone (10 s), then SIGKILL what is left
  for _ in $(seq 100); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && return 0
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
}

if [ "$cmd" = stop ]; then stop; exit 0; fi
[ "$cmd" = start ] || { echo "slurm-cluster.sh: unknown command $cmd (start|stop)" >&2; exit 2; }
for b in munged slurmctld slurmd sbatch; do
  command -v "$b" >/dev/null || [ -x "/usr/sbin/$b" ] || { echo "slurm-cluster.sh: $b not found (apt-get install slurm-wlm munge)" >&2; exit 3; }
done
[ "$(id -u)" = 0 ] || { echo "slurm-cluster.sh: needs root (slurmd starts jobs as their owner)" >&2; exit 3; }
export PATH=$PATH:/usr/sbin
host=$(hostname -s)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/munge"
chmod 700 "$dir/munge"
head -c 1024 /dev/urandom > "$dir/munge/munge.key"
chmod 400 "$dir/munge/munge.key"
cat > "$dir/slurm.conf" <<CONF
ClusterName=starwordtest
SlurmctldHost=$host
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
MinJobAge=600
KillWait=5
SlurmdTimeout=60
SlurmdParameters=config_overrides
NodeName=$host CPUs=16 RealMemory=65536 State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$dir/slurm.conf
munged --force --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" --pid-file="$dir/munged.pid" \
  --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed"
# -D keeps them in the foreground of their own background process; their pid files are what stop reads
setsid slurmctld -D -i > "$dir/log/slurmctld.out" 2>&1 < /dev/null &
echo $! > "$dir/slurmctld.pid"
setsid slurmd -D > "$dir/log/slurmd.out" 2>&1 < /dev/null &
echo $! > "$dir/slurmd.pid"
for _ in $(seq 300); do
  if sinfo -h -N -o '%T' 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; then exit 0; fi
  sleep 0.1
done
echo "slurm-cluster.sh: the node did not come up in 30 s: $(sinfo -h -N -o '%T %E' 2>&1 | head -1); see $dir/log" >&2
stop
exit 1
