import type { Command } from 'commander';

export interface CommandModule { register(program: Command): void }

// One line per command module; keep alphabetical to avoid merge noise.
export const commandModules: CommandModule[] = [
];
