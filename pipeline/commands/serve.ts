/**
 * `starword serve --index DIR --model DIR [--phi FILE] [--pic2word FILE] [--lincir PATH] [--port N] [--host 127.0.0.1]`:
 * a local web page for composed queries over a gallery index (see pipeline/serve/).
 */
import type { Command } from 'commander';
import { addSharedOptions, sessionOptionsFrom, sharedOptionsFrom } from '../shared-options.ts';
import { UserError } from '../../util/errors.ts';
import { floatOption, positiveIntOption } from '../options.ts';
import { ServeEngine } from '../serve/engine.ts';
import { DEFAULT_MAX_OTI_JOBS, createServeServer } from '../serve/http.ts';
import { DEFAULT_MAX_UPLOAD_PIXELS } from '../serve/upload-decoder.ts';

interface Options {
  index: string; model: string; phi?: string; pic2word?: string; lincir?: string; port: number; host: string; otiSteps: number; maxUploadMb: number;
  maxUploadMegapixels: number; allowHost: string[]; maxOtiJobs: number;
}

const LOOPBACK_BIND = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/i;

export function register(program: Command): void {
  const cmd = program.command('serve')
    .description('a local web page: pick or upload a reference, type a relative caption, see the top-K of the index')
    .requiredOption('--index <dir>', 'gallery index: a run folder (starword index), or its embed/ folder')
    .option('--phi <file>', 'phi (.onnx or .safetensors): offers SEARLE')
    .option('--pic2word <file>', 'a Pic2Word mapper exported like phi: offers Pic2Word')
    .option('--lincir <path>', 'LinCIR\'s φ (.onnx, .safetensors or its `starword lincir` folder): offers LinCIR')
    .option('--port <n>', 'port (0: any free one)', (v) => { const n = Number(v); if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UserError(`--port must be 0..65535, got '${v}'`); return n; }, 8321)
    .option('--host <addr>', 'address to bind (127.0.0.1: this machine only)', '127.0.0.1')
    .option('--oti-steps <n>', 'steps of the live OTI method', positiveIntOption, 150)
    .option('--max-upload-mb <x>', 'largest upload accepted', floatOption, 10)
    .option('--max-upload-megapixels <x>', 'most pixels an upload may declare (checked from its header before decoding)', floatOption, DEFAULT_MAX_UPLOAD_PIXELS / 1e6)
    .option('--allow-host <name>', 'a host name clients may use besides localhost / 127.0.0.1 / [::1] (repeatable); needed with a --host other machines reach',
      (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--max-oti-jobs <n>', 'live-OTI queries running or waiting; past it the server answers 503', positiveIntOption, DEFAULT_MAX_OTI_JOBS);
  addSharedOptions(cmd, { keys: ['model', 'threads', 'device', 'cacheDir'], requireModel: true, help: { model: 'the CLIP folder the index was made with' } });
  cmd.action(async (o: Options) => {
      if (!(o.maxUploadMb > 0)) throw new UserError('--max-upload-mb must be > 0');
      if (!(o.maxUploadMegapixels > 0)) throw new UserError('--max-upload-megapixels must be > 0');
      // other machines would reach it under a name the Host check refuses: say so now, not with 403s
      if (!LOOPBACK_BIND.test(o.host) && o.allowHost.length === 0) {
        throw new UserError(`--host ${o.host} lets other machines connect: name the host name they will use with --allow-host NAME (serve has no login; see docs/serve.md)`);
      }
      const maxUploadPixels = Math.round(o.maxUploadMegapixels * 1e6);
      const engine = await ServeEngine.open({
        index: o.index, model: o.model, phi: o.phi, pic2word: o.pic2word, lincir: o.lincir, otiSteps: o.otiSteps, maxUploadPixels,
        ...sessionOptionsFrom(sharedOptionsFrom(o as unknown as Record<string, unknown>)),
      });
      const log = (line: string) => process.stderr.write(`serve: ${line}\n`);
      const server = createServeServer(engine, {
        maxUploadBytes: Math.round(o.maxUploadMb * 1048576), maxK: 200, log, allowHosts: o.allowHost, maxOtiJobs: o.maxOtiJobs, maxUploadPixels,
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', (err: NodeJS.ErrnoException) => reject(new UserError(`--port ${o.port}: cannot listen on ${o.host} (${err.code ?? err.message})`)));
        server.listen(o.port, o.host, () => resolve());
      });
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : o.port;
      if (engine.imageCount === 0) log(`${o.index} has no ingest plan beside its features: queries work, but no image can be shown (index the gallery with starword index)`);
      log(`${engine.ids.length} gallery images; methods: ${engine.methods.map((m) => m.name).join(', ')}`);
      // the URL on stdout, alone on its line, so scripts and tests can read it
      process.stdout.write(`http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}/\n`);
      const stop = () => { server.close(); void engine.close().finally(() => process.exit(0)); };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
