#!/usr/bin/env bash
# Installs the `npm pack` tarball into an empty folder as a user would (no .npmrc, no
# ONNXRUNTIME_NODE_INSTALL), then runs the installed CLI: --help and one real command.
# Prints "package: N passed, N failed" as its last line; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
unset ONNXRUNTIME_NODE_INSTALL npm_config_onnxruntime_node_install
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0; failed=0
check() { # name, command...
  local name=$1; shift
  if out=$("$@" 2>&1); then passed=$((passed + 1)); echo "  ok   $name"; else failed=$((failed + 1)); echo "  FAIL $name"; echo "$out" | tail -20; fi
}
tgz=$(npm pack --silent --pack-destination "$work" | tail -1)
echo "packed $tgz ($(du -h "$work/$tgz" | cut -f1))"
check "tarball holds no tests, fixtures or benchmarks" bash -c "! tar tzf '$work/$tgz' | grep -E '^package/(test|bench|deploy)/|\.test\.|fixtures/'"
check "tarball holds the compiled CLI and its data" bash -c "tar tzf '$work/$tgz' | grep -q '^package/dist/pipeline/cli.js$' && tar tzf '$work/$tgz' | grep -q '^package/data/clip-bpe-vocab-16e6.txt.gz$'"
mkdir -p "$work/app" && cd "$work/app" && npm init -y >/dev/null
check "npm install of the tarball (CUDA download skipped without any user setting)" \
  npm install --no-audit --no-fund --prefer-offline "$work/$tgz"
check "npx starword --help" bash -c "npx --no-install starword --help | grep -q 'tokenize'"
check "npx starword tokenize (a real command from the installed copy)" \
  bash -c "echo '{\"text\":\"a photo of a cat\"}' | npx --no-install starword tokenize | grep -q '\"ids\":\[49406,320,1125,539,320,2368,49407'"
check "the installed copy runs compiled JavaScript (no tsx needed)" bash -c "test ! -e node_modules/tsx"
echo "package: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
