#!/usr/bin/env bash
# Start-up time of the installed CLI (compiled dist/): median of N runs (default 10) of
# `starword --help` and of `starword tokenize` on one line. Build first: `npm run build`.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10}
[ -f dist/pipeline/cli.js ] || { echo "bench/startup.sh: dist/ is missing; run npm run build first" >&2; exit 2; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
for _ in $(seq "$n"); do t0=$(date +%s%N); node -e 0; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )); done | median | xargs printf 'node -e 0 (Node itself)                  %s ms\n'
for _ in $(seq "$n"); do t0=$(date +%s%N); node bin/starword.js --help > /dev/null; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )); done | median | xargs printf 'starword --help                          %s ms\n'
for _ in $(seq "$n"); do t0=$(date +%s%N); echo '{"text":"a photo of a cat"}' | node bin/starword.js tokenize > /dev/null; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )); done | median | xargs printf 'starword tokenize (one line)             %s ms\n'
