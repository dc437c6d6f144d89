#!/usr/bin/env bash
# Runs a command and samples its resident set (the process tree's, from /proc) every second:
#   bench/rss.sh LOG -- command args...
# LOG gets "seconds rss_mib" lines; the last line printed is the peak.
set -u
log=$1; shift; [ "$1" = "--" ] && shift
"$@" & pid=$!
peak=0; t0=$(date +%s)
: > "$log"
while kill -0 "$pid" 2>/dev/null; do
  rss=0
  for p in $pid $(pgrep -P "$pid"); do
    r=$(awk '/VmRSS/ {print $2}' /proc/$p/status 2>/dev/null); rss=$((rss + ${r:-0}))
  done
  mib=$((rss / 1024)); [ "$mib" -gt "$peak" ] && peak=$mib
  echo "$(( $(date +%s) - t0 )) $mib" >> "$log"
  sleep 1
done
wait "$pid"; status=$?
echo "peak RSS ${peak} MiB ($(wc -l < "$log") samples), exit $status"
exit $status
