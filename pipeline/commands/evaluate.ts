/**
 * `starword evaluate --dataset cirr|circo|fashioniq --annotations PATH --index DIR [--model DIR]
 * [--methods image,text,sum,searle-oti,searle,pic2word,lincir,captioning,cirevl | all] [--tokens PATH] [--phi FILE]
 * [--pic2word FILE | --pic2word-tokens PATH] [--lincir PATH | --lincir-tokens PATH] [caption / LLM endpoint options] [--split val] [--out FILE.json]`:
 * every method's metrics side by side, a row per method in the talk's layout (evaluate-methods.ts says
 * what each needs; one that cannot run keeps its row with the reason). With --out: the table as JSON,
 * Markdown, CSV and a bar chart (.svg, .png), and the metric curves (-curves.svg, .png). See the README,
 * "Composed image retrieval" and "Every method in one table".
 */
import type { Command } from 'commander';
import { DATASETS } from '../../stages/evaluate/types.ts';
import { TABLE_METHODS } from '../evaluate-methods.ts';
import { addCaptionOptions } from '../evaluate-captions.ts';
import { type EvaluateFlags, runEvaluate } from '../evaluate-run.ts';
import { addQueryModelOptions } from '../shared-options.ts';

export function register(program: Command): void {
  const cmd = program.command('evaluate')
    .description('CIRR / CIRCO / FashionIQ metrics of every composed-retrieval method over a gallery index, side by side')
    .requiredOption('--dataset <name>', DATASETS.join(' | '))
    .requiredOption('--annotations <path>', 'the dataset folder (or its captions/annotations file)')
    .requiredOption('--index <dir>', 'gallery features: a run folder, its embed/ folder, or an .arrow file')
    .option('--methods <names>', `all | a comma-separated list of ${TABLE_METHODS.join(', ')}`)
    .option('--method <names>', 'alias of --methods (default: searle)')
    .option('--tokens <path>', 'OTI tokens of the reference images (searle-oti): a run folder, its oti/ folder, or an .arrow file')
    .option('--phi <file>', 'phi exported as ONNX (searle): predicts the references\' tokens from their indexed features')
    .option('--pic2word <file>', 'Pic2Word f_M export (pic2word): .onnx or IM2TEXT-layout .safetensors; predicts the references\' tokens')
    .option('--pic2word-tokens <path>', 'Pic2Word tokens of the reference images (pic2word): what `invert --mapper pic2word` writes')
    .option('--lincir <path>', 'LinCIR φ export (lincir): .onnx, Phi-layout .safetensors or a `starword lincir` folder; predicts the references\' tokens')
    .option('--lincir-tokens <path>', 'LinCIR tokens of the reference images (lincir): what `invert --lincir` writes')
    .option('--split <name>', 'annotation split', 'val')
    .option('--categories <list>', 'FashionIQ categories (default dress,shirt,toptee)')
    .option('--exclude-reference', 'remove the reference from its own ranking (default on CIRR only, as SEARLE\'s validate.py)')
    .option('--keep-reference', 'keep the reference in its ranking (default on CIRCO and FashionIQ, as SEARLE\'s validate.py)')
    .option('--out <file>', 'write the table here (.json), beside it .md, .csv, .svg, .png, and the curves (-curves.svg, -curves.png)')
    .option('--rankings <file>', 'write each query\'s top 10 per method as JSON lines (what `starword report --eval` shows)')
    .option('--quiet', 'no progress lines on stderr');
  addCaptionOptions(addQueryModelOptions(cmd)).action(async (flags: EvaluateFlags) => { await runEvaluate(flags); });
}
