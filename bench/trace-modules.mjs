// Preloaded with `node --import ./bench/trace-modules.mjs …`: appends every file that Node resolves (ES
// modules through a resolve hook, CommonJS through Module._resolveFilename) to $STARWORD_TRACE_FILE, so that
// bench/gpu-bundle.sh carries only the packages a benchmark really loads.
import { appendFileSync } from 'node:fs';
import Module, { register } from 'node:module';

const out = process.env.STARWORD_TRACE_FILE;
if (out) {
  const resolveFilename = Module._resolveFilename;
  Module._resolveFilename = function (...args) {
    const file = resolveFilename.apply(this, args);
    if (file.startsWith('/')) appendFileSync(out, `${file}\n`);
    return file;
  };
  const hook = `import { appendFileSync } from 'node:fs';
export async function resolve(spec, ctx, next) {
  const r = await next(spec, ctx);
  if (r.url.startsWith('file:')) appendFileSync(${JSON.stringify(out)}, new URL(r.url).pathname + '\\n');
  return r;
}`;
  register(`data:text/javascript,${encodeURIComponent(hook)}`);
}
