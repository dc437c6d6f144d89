#!/usr/bin/env bash
# Builds what bench/gpu.sh needs on a GPU machine with no network and no npm: a trimmed copy of starword under
# .bench/gpu-bundle/ (an ignored path, carried with the working tree; the carry limit is 64 MiB):
#   starword.tar.xz   compiled dist/, bin/, package.json, data/ (no toy world), bench/*.py, and only the
#                     node_modules packages the benchmarks load (traced by running each once on a tiny model),
#                     onnxruntime-node with its linux-x64 library alone
#   node.xz           this machine's Node binary, for a machine without Node 20+
#   libvulkan.so.1    Debian's Vulkan loader, for a machine whose NVIDIA driver ships no loader
# Usage: bash bench/gpu-bundle.sh   (prints the bundle's size; fails above 64 MiB)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=.bench/gpu-bundle
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf "$out" && mkdir -p "$out"

npm run build >/dev/null
echo "gpu-bundle: tracing the modules the benchmarks load" >&2
trace="$work/trace.txt"
tiny="$work/tiny"
node bin/starword.js make-model --preset tiny --out "$tiny" >/dev/null
export STARWORD_TRACE_FILE="$trace" STARWORD_CACHE_DIR="$work/cache"
run() { node --import ./bench/trace-modules.mjs bin/starword.js "$@" >/dev/null 2>&1 || { echo "gpu-bundle: tracing 'starword $*' failed" >&2; exit 1; }; }
run bench matmul --size 64 --chain 1 --rounds 1
run bench oti --width 32 --layers 1 --heads 1 --batch 2 --steps 1 --warmup 0
run bench embed --model "$tiny" --count 2 --rounds 1 --batch 2 --cache-dir "$work/cache"
run bench text --model "$tiny" --names 2 --phrases 2 --rounds 1 --cache-dir "$work/cache"
unset STARWORD_TRACE_FILE STARWORD_CACHE_DIR

# whole packages (a package may load more files later than the trace saw), onnxruntime-node trimmed below
# node_modules may be a link (the trace holds real paths): the top-level package after the first node_modules/
mapfile -t packages < <(sort -u "$trace" | grep -o "/node_modules/\(@[^/]*/\)\?[^/]*" | sed 's|^/||' | sort -u)
stage="$work/starword"
mkdir -p "$stage/node_modules" "$stage/bench" "$stage/data"
cp -r dist bin package.json "$stage/"
cp bench/*.py "$stage/bench/"
find data -maxdepth 1 -type f -exec cp {} "$stage/data/" \;
for p in "${packages[@]}"; do
  [ "$p" = node_modules/onnxruntime-node ] && continue
  mkdir -p "$stage/$(dirname "$p")" && cp -rL "$p" "$stage/$p"
done
ort=node_modules/onnxruntime-node
mkdir -p "$stage/$ort/bin/napi-v6/linux"
cp -L "$ort/package.json" "$stage/$ort/" && cp -rL "$ort/dist" "$stage/$ort/"
cp -rL "$ort/bin/napi-v6/linux/x64" "$stage/$ort/bin/napi-v6/linux/"
echo "gpu-bundle: ${#packages[@]} packages: $(printf '%s ' "${packages[@]#node_modules/}")" >&2

tar -C "$work" -cf - starword | xz -T0 -3 > "$out/starword.tar.xz"
xz -T0 -3 -c "$(command -v node)" > "$out/node.xz"
vk=$( (/sbin/ldconfig -p 2>/dev/null || ldconfig -p 2>/dev/null || true) | awk '/libvulkan\.so\.1 /{print $NF; exit}')
if [ -n "$vk" ]; then cp -L "$vk" "$out/libvulkan.so.1"; else echo "gpu-bundle: no libvulkan.so.1 here to carry (apt-get install libvulkan1)" >&2; fi
node --version > "$out/node-version.txt"

bytes=$(du -cb "$out"/* | tail -1 | cut -f1)
du -b "$out"/* | awk '{printf "  %-40s %6.1f MiB\n", $2, $1 / 1048576}' >&2
printf 'gpu-bundle: %s, %.1f MiB in all (limit 64 MiB)\n' "$out" "$(echo "$bytes / 1048576" | bc -l)"
[ "$bytes" -le $((64 * 1048576)) ] || { echo "gpu-bundle: over 64 MiB" >&2; exit 1; }
