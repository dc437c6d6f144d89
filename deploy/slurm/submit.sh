#!/bin/bash
# Submits the whole sharded run, each step waiting for the one before with --dependency=afterok
# (an array's dependants start when all of its tasks succeeded). Resources come from config.sh.
#   deploy/slurm/submit.sh [config.sh]
# Rerunning after a failure resumes: every step keeps what it finished.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export STARWORD_CONFIG=$(cd "$(dirname "${1:-$here/config.sh}")" && pwd)/$(basename "${1:-$here/config.sh}")
source "$STARWORD_CONFIG"
cd "$here"
mkdir -p "$LOGS"

# submit CPUS MEM TIME LOG [sbatch options...] SCRIPT: prints the job id
submit() {
  local cpus=$1 mem=$2 time=$3 log=$4; shift 4
  sbatch --parsable "${SBATCH_ARGS[@]}" --cpus-per-task="$cpus" --mem="$mem" --time="$time" --output="$LOGS/$log" "$@"
}
j1=$(submit "$STEP1_CPUS" "$STEP1_MEM" "$STEP1_TIME" 'step1-%A_%a.log' --array=0-$((SHARDS - 1)) step1-shards.sbatch)
j2=$(submit "$STEP2_CPUS" "$STEP2_MEM" "$STEP2_TIME" 'step2-%A_%a.log' --dependency=afterok:$j1 --array=0-$((PHRASE_JOBS - 1)) step2-phrases.sbatch)
j2b=$(submit "$STEP2B_CPUS" "$STEP2B_MEM" "$STEP2B_TIME" 'step2b-%j.log' --dependency=afterok:$j2 step2-assemble.sbatch)
j3=$(submit "$STEP3_CPUS" "$STEP3_MEM" "$STEP3_TIME" 'step3-%A_%a.log' --dependency=afterok:$j2b --array=0-$((SHARDS - 1)) step3-oti.sbatch)
j4=$(submit "$STEP4_CPUS" "$STEP4_MEM" "$STEP4_TIME" 'step4-%j.log' --dependency=afterok:$j3 step4-merge-phi.sbatch)
echo "submitted: step1 $j1, step2 $j2, step2b $j2b, step3 $j3, step4 $j4 (squeue --me; logs in $LOGS)"
