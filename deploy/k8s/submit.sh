#!/bin/bash
# Runs the four steps in order: each Job is applied when the one before has completed.
#   deploy/k8s/submit.sh [namespace]
# Edit config.yaml (paths, SHARDS, PHRASE_JOBS, the LLM) and the Jobs' completions (= SHARDS for
# steps 1 and 3, = PHRASE_JOBS for step 2a) and image first. Rerunning resumes: finished work is kept.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ns=(--namespace "${1:-default}")

wait_job() {
  # complete → next step; failed → stop here (fix, delete the Job, rerun this script)
  local job=$1
  while true; do
    if kubectl "${ns[@]}" wait --for=condition=complete --timeout=60s "job/$job" >/dev/null 2>&1; then return 0; fi
    if [ "$(kubectl "${ns[@]}" get "job/$job" -o jsonpath='{.status.conditions[?(@.type=="Failed")].status}')" = "True" ]; then
      echo "submit: job $job failed; see kubectl logs -l job-name=$job" >&2
      return 1
    fi
  done
}

kubectl "${ns[@]}" apply -f "$here/storage.yaml" -f "$here/config.yaml"
for step in step1-shards step2a-phrases step2b-assemble step3-oti step4-merge-phi; do
  job="starword-$step"
  kubectl "${ns[@]}" apply -f "$here/$step.yaml"
  wait_job "$job"
  echo "submit: $job complete"
done
