#!/usr/bin/env bash
# starword on a GPU machine, in one call of under 10 minutes, with no network: OTI, embedding and text on the
# WebGPU provider and on the CPU provider at ViT-B/32 (and with --full, ViT-L/14) dims, the device's own fp32
# matrix roof through the same provider, and SEARLE's OTI step in PyTorch on the same GPU (SEARLE's way: AMP
# autocast, padded to 77; the best way: SDPA, EOT cut, torch.compile). Prints image-steps/s for each, the
# GPU-hours of SEARLE's 100,000-image × 350-step OTI, and each figure's share of the roof.
#
#   bash bench/gpu.sh [--quick (default) | --full | --smoke] [--budget SECONDS (default 540)]
# (--smoke: tiny dims, to check the script's own logic on a machine without a GPU, e.g. on lavapipe)
#
# What it needs, checked first, in this order:
#   Node 20+: the machine's, else .bench/gpu-bundle/node.xz (bash bench/gpu-bundle.sh makes the bundle here);
#   starword: this checkout when its node_modules and dist/ are there, else .bench/gpu-bundle/starword.tar.xz;
#   the Vulkan loader: the machine's libvulkan.so.1, else the bundle's copy (LD_LIBRARY_PATH);
#   a Vulkan driver for the GPU: nvidia_icd.json (VK_DRIVER_FILES points at it, so Mesa's lavapipe is never used).
# Without an NVIDIA GPU it still runs every step it can (lavapipe, CPU) and says what it skipped.
# Results: $OUT (the device tool's folder) or .bench/gpu-results/, one log per benchmark and summary.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
mode=quick budget=540
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) mode=quick ;; --full) mode=full ;; --smoke) mode=smoke ;;
    --budget) budget=$2; shift ;;
    *) echo "bench/gpu.sh: unknown argument $1 (use --quick, --full, --smoke or --budget SECONDS)" >&2; exit 2 ;;
  esac
  shift
done
start=$(date +%s)
elapsed() { echo $(( $(date +%s) - start )); }
results=${OUT:-$repo/.bench/gpu-results}
mkdir -p "$results"
summary="$results/summary.txt"
: > "$summary"
say() { echo "$*" | tee -a "$summary"; }
bundle=$repo/.bench/gpu-bundle
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

say "== bench/gpu.sh ($mode mode, budget ${budget}s) on $(hostname), $(date -u +%FT%TZ)"

# --- Node -----------------------------------------------------------------------------------------------
node_ok() { command -v node >/dev/null 2>&1 && [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -ge 20 ]; }
if node_ok; then
  say "node: $(command -v node) $(node --version)"
elif [ -f "$bundle/node.xz" ]; then
  mkdir -p "$tmp/bin" && xz -dc "$bundle/node.xz" > "$tmp/bin/node" && chmod +x "$tmp/bin/node"
  export PATH="$tmp/bin:$PATH"
  say "node: carried copy $(node --version) (none of 20+ on the machine)"
else
  say "node: none of version 20+ here and no carried copy ($bundle/node.xz): run bash bench/gpu-bundle.sh where Node is, and carry .bench/gpu-bundle"
  exit 2
fi

# --- starword -------------------------------------------------------------------------------------------
if [ -f "$repo/node_modules/onnxruntime-node/package.json" ] && [ -f "$repo/dist/pipeline/cli.js" ]; then
  sw_root=$repo
  say "starword: this checkout (compiled dist/)"
elif [ -f "$bundle/starword.tar.xz" ]; then
  xz -dc "$bundle/starword.tar.xz" | tar -C "$tmp" -xf -
  sw_root=$tmp/starword
  say "starword: carried bundle ($(du -shL "$bundle" | cut -f1) carried)"
else
  say "starword: no node_modules/dist here and no bundle ($bundle/starword.tar.xz): run bash bench/gpu-bundle.sh first"
  exit 2
fi
# a file, not a function: `timeout` runs commands
sw=$tmp/run-starword
printf '#!/usr/bin/env bash\ncd %q && STARWORD_SOURCE=0 exec node bin/starword.js "$@"\n' "$sw_root" > "$sw" && chmod +x "$sw"
sw() { "$sw" "$@"; }
export STARWORD_CACHE_DIR=${STARWORD_CACHE_DIR:-$tmp/cache}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$tmp/xdg}
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

# --- GPU, Vulkan loader and driver ----------------------------------------------------------------------
if command -v nvidia-smi >/dev/null 2>&1; then
  say "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)"
else
  say "gpu: no nvidia-smi (no NVIDIA GPU, or its tools are not mounted)"
fi
# grep without -q reads to the end: an early exit would SIGPIPE ldconfig and fail the pipeline under pipefail
has_loader() { (/sbin/ldconfig -p 2>/dev/null || ldconfig -p 2>/dev/null) | grep 'libvulkan\.so\.1 ' >/dev/null; }
if has_loader; then
  say "vulkan loader: the machine's"
elif [ -f "$bundle/libvulkan.so.1" ]; then
  export LD_LIBRARY_PATH="$bundle${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  say "vulkan loader: carried copy (Debian's libvulkan1)"
else
  say "vulkan loader: none (no libvulkan.so.1 here or in $bundle): WebGPU cannot start"
fi
icd=""
for d in /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d /usr/local/share/vulkan/icd.d /usr/local/nvidia/icd.d; do
  [ -f "$d/nvidia_icd.json" ] && { icd="$d/nvidia_icd.json"; break; }
done
if [ -n "$icd" ]; then
  export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd"
  say "vulkan driver: $icd (VK_DRIVER_FILES: lavapipe and other drivers are not loaded)"
else
  say "vulkan driver: no nvidia_icd.json found (the container may lack the 'graphics' driver capability); WebGPU uses whatever driver the loader finds"
fi

# --- PyTorch peer ---------------------------------------------------------------------------------------
py=""; torch_cuda=no
for cand in python3 /usr/bin/python3 python; do
  command -v "$cand" >/dev/null 2>&1 || continue
  info=$("$cand" -c 'import torch; print(torch.__version__, torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")' 2>/dev/null) || continue
  py=$cand; set -- $info; [ "$2" = True ] && torch_cuda=yes
  say "pytorch: $cand torch $1, CUDA $2 ($3)"
  break
done
[ -n "$py" ] || say "pytorch: no Python with torch: the PyTorch peer is skipped"

# --- the runs -------------------------------------------------------------------------------------------
# run NAME TIMEOUT cmd...: logs to $results/NAME.log, keeps the last line, skips when the budget is spent
declare -A last
run() {
  local name=$1 limit=$2; shift 2
  local left=$(( budget - $(elapsed) ))
  if [ "$left" -lt 20 ]; then say "$name: skipped (budget spent)"; return; fi
  [ "$limit" -gt "$left" ] && limit=$left
  local t0; t0=$(date +%s)
  timeout "$limit" "$@" > "$results/$name.log" 2>&1
  local rc=$?
  local line; line=$(grep -v '^\s*$' "$results/$name.log" | grep -v '^Warning:' | tail -1)
  if [ "$rc" -eq 0 ]; then last[$name]=$line; say "$name: $line ($(( $(date +%s) - t0 )) s)"
  else say "$name: FAILED rc=$rc after $(( $(date +%s) - t0 )) s: $line"; fi
}
num() { echo "${last[$1]:-}" | grep -Eo '^[0-9.]+' | head -1; }

say "device check: $(sw bench matmul --size 64 --chain 1 --rounds 1 --device webgpu 2>&1 | grep '^device:\|could not start' | head -1)"

model_args() { echo "--preset $1"; }
if [ "$mode" = smoke ]; then
  oti_steps="--steps 2 --warmup 1"; gpu_batches="8 16"; mm_gpu="--size 256 --chain 2 --rounds 2"; mm_cpu="--size 256 --chain 2 --rounds 2"
  embed_count=4; text_sizes="--names 2 --phrases 8 --rounds 1"; dims="tiny"
  sw make-model --preset tiny --out "$tmp/tiny" >/dev/null
  model_args() { echo "--model $tmp/tiny"; }
elif [ "$mode" = quick ]; then
  oti_steps="--steps 3 --warmup 1"; gpu_batches="32 256"; mm_gpu="--size 4096 --chain 4 --rounds 3"; mm_cpu="--size 2048 --chain 1 --rounds 3"
  embed_count=128; text_sizes="--names 64 --phrases 512 --rounds 2"; dims="b32"
else
  oti_steps="--steps 6 --warmup 2"; gpu_batches="32 128 512"; mm_gpu="--size 8192 --chain 4 --rounds 5"; mm_cpu="--size 2048 --chain 2 --rounds 5"
  embed_count=512; text_sizes="--names 256 --phrases 2048 --rounds 3"; dims="b32 l14"
fi
oti_dims() {
  case "$1" in b32) echo "--width 512 --layers 12 --heads 8" ;; l14) echo "--width 768 --layers 12 --heads 12" ;; *) echo "--width 64 --layers 2 --heads 2" ;; esac
}

run matmul-webgpu 90 "$sw" bench matmul --device webgpu $mm_gpu
run matmul-cpu 60 "$sw" bench matmul --device cpu $mm_cpu
for d in $dims; do
  for b in $gpu_batches; do run "oti-$d-webgpu-b$b" 120 "$sw" bench oti $(oti_dims "$d") --batch "$b" $oti_steps --device webgpu; done
  # the same step with v*, the moments, the EMA and the prefix keys/values round-tripping through the host
  b=${gpu_batches%% *}; run "oti-$d-webgpu-b$b-state-host" 120 "$sw" bench oti $(oti_dims "$d") --batch "$b" $oti_steps --device webgpu --state host
  run "oti-$d-cpu-b32" 90 "$sw" bench oti $(oti_dims "$d") --batch 32 --steps 2 --warmup 1 --device cpu
  if [ "$torch_cuda" = yes ]; then
    run "pytorch-oti-$d-searle" 120 "$py" "$sw_root/bench/pytorch_oti.py" $(oti_dims "$d") --batch 32 --steps 5 --warmup 2 --device cuda --pad77 --amp
    run "pytorch-oti-$d-best-b256" 180 "$py" "$sw_root/bench/pytorch_oti.py" $(oti_dims "$d") --batch 256 --steps 5 --warmup 3 --device cuda --compile
  fi
done
for d in $dims; do
  run "embed-$d-webgpu" 150 "$sw" bench embed $(model_args "$d") --count "$embed_count" --batch 64 --rounds 2 --device webgpu
  run "text-$d-webgpu" 90 "$sw" bench text $(model_args "$d") $text_sizes --device webgpu
done
d=${dims%% *}
run "embed-$d-cpu" 120 "$sw" bench embed $(model_args "$d") --count "$embed_count" --batch 32 --rounds 1 --device cpu
run "text-$d-cpu" 90 "$sw" bench text $(model_args "$d") $text_sizes --device cpu

# --- summary ----------------------------------------------------------------------------------------------
say "== summary (image-steps/s; hours of this device for SEARLE's 100,000 images × 350 steps: GPU-hours on webgpu/cuda rows; share of the provider's own matrix roof)"
roof_gpu=$(num matmul-webgpu); roof_cpu=$(num matmul-cpu)
say "fp32 matrix roof: webgpu ${roof_gpu:-?} GFLOP/s, cpu ${roof_cpu:-?} GFLOP/s"
for name in "${!last[@]}"; do
  case "$name" in oti-*|pytorch-oti-*) ;; *) continue ;; esac
  rate=$(echo "${last[$name]}" | grep -Eo '^[0-9.]+')
  [ -n "$rate" ] || continue
  hours=$(awk -v r="$rate" 'BEGIN { printf "%.2f", 100000 * 350 / r / 3600 }')
  gflops=$(grep -Eo '^[0-9.]+ GFLOP/s' "$results/$name.log" | grep -Eo '^[0-9.]+' | tail -1)
  roof=$roof_cpu; case "$name" in *webgpu*) roof=$roof_gpu ;; esac
  share=""
  [ -n "$gflops" ] && [ -n "$roof" ] && share=$(awk -v g="$gflops" -v r="$roof" 'BEGIN { printf ", %.0f%% of the roof (%s GFLOP/s)", 100 * g / r, g }')
  traffic=$(grep -Eo '[0-9.]+ KiB fed and read back per step' "$results/$name.log" | grep -Eo '^[0-9.]+' | tail -1)
  [ -n "$traffic" ] && share="$share, ${traffic} KiB host<->device per step"
  say "$(printf '%-28s %10s image-steps/s  %8s hours%s' "$name" "$rate" "$hours" "$share")"
done | sort
say "(aim on an H100: ≤ 1 GPU-hour, faster than SEARLE's own code on the same GPU) — done in $(elapsed) s"
