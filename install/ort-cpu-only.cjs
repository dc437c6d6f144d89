#!/usr/bin/env node
// starword's preinstall. onnxruntime-node (1.22 and later) downloads its CUDA provider, several hundred
// MB from NuGet, in its own postinstall on linux/x64 unless told to skip, and fails the whole install
// where that host cannot be reached. npm takes such a skip only from the user's environment or config,
// or from the allowScripts of the root project, never from a dependency like starword. But every
// package's preinstall runs before any postinstall, and onnxruntime-node's installer skips the
// download when the files it would fetch are already there: so this writes empty placeholders for
// them. starword runs on the CPU provider, which ships inside the package. For CUDA, run
// `ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node`: an explicit flag makes the installer
// fetch the real files over the placeholders. An explicit ONNXRUNTIME_NODE_INSTALL (or npm config
// onnxruntime-node-install) is left to onnxruntime-node.
'use strict';
const { existsSync, mkdirSync, writeFileSync } = require('node:fs');
const { dirname, join } = require('node:path');

const PROVIDER_FILES = ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so', 'libonnxruntime_providers_tensorrt.so'];

function ortFolder(from) {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', 'onnxruntime-node');
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) return null;
  }
}

if (process.platform === 'linux' && process.arch === 'x64'
  && !process.env.ONNXRUNTIME_NODE_INSTALL && !process.env.npm_config_onnxruntime_node_install) {
  const ort = ortFolder(process.cwd());
  if (ort) {
    const bin = join(ort, 'bin', 'napi-v6', 'linux', 'x64');
    mkdirSync(bin, { recursive: true });
    for (const f of PROVIDER_FILES) if (!existsSync(join(bin, f))) writeFileSync(join(bin, f), '');
  }
}
