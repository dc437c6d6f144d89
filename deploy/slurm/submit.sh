#!/bin/bash
# Submits the whole sharded run, each step waiting for the one before with --dependency=afterok
# (an array's dependants start when all of its tasks succeeded).
#   deploy/slurm/submit.sh [config.sh]
# Rerunning after a failure resumes: every step keeps what it finished.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export STARWORD_CONFIG=$(cd "$(dirname "${1:-$here/config.sh}")" && pwd)/$(basename "${1:-$here/config.sh}")
source "$STARWORD_CONFIG"
cd "$here"
j1=$(sbatch --parsable --array=0-$((SHARDS - 1)) step1-shards.sbatch)
j2=$(sbatch --parsable --dependency=afterok:$j1 --array=0-$((PHRASE_JOBS - 1)) step2-phrases.sbatch)
j2b=$(sbatch --parsable --dependency=afterok:$j2 step2-assemble.sbatch)
j3=$(sbatch --parsable --dependency=afterok:$j2b --array=0-$((SHARDS - 1)) step3-oti.sbatch)
j4=$(sbatch --parsable --dependency=afterok:$j3 step4-merge-phi.sbatch)
echo "submitted: step1 $j1, step2 $j2, step2b $j2b, step3 $j3, step4 $j4 (squeue --me)"
