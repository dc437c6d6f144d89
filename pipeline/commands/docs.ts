/** `starword docs options`: prints docs/options.md, generated from the option declarations. */
import type { Command } from 'commander';

export function register(program: Command): void {
  const docs = program.command('docs').description('print generated reference pages (docs options > docs/options.md)');
  docs.command('options')
    .description('every command, every option, its default and SEARLE\'s value where it differs, as markdown')
    .action(async () => {
      const { optionsReference } = await import('../options-reference.ts');
      process.stdout.write(await optionsReference());
    });
}
