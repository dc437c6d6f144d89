/**
 * The 24 PALAVRA prompt templates SEARLE ensembles over (data/palavra-templates.json, `{}` the slot).
 * SEARLE fills them with Python's `template.format(f' {name} ')`: the name padded by one space each
 * side. CLIP's tokenizer collapses and strips whitespace, so the padding only matters for exactness
 * of the text; we reproduce it anyway.
 */
import { packagePath } from '../../util/package-root.ts';
import { readFileSync } from 'node:fs';
import { UserError, errorMessage } from '../../util/errors.ts';
import { hashJson } from '../../util/hash.ts';

export const DEFAULT_TEMPLATES_PATH = packagePath('data', 'palavra-templates.json');
export const TEMPLATE_SLOT = '{}';
/** Names the fill rule in the cache key, so a change of rule invalidates cached features. */
const FILL_RULE = 'searle-format-space-padded-v1';

export function loadTemplates(path: string = DEFAULT_TEMPLATES_PATH): string[] {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UserError(`cannot read templates ${path}: ${errorMessage(err)}`);
  }
  if (!Array.isArray(value) || value.length === 0 || !value.every((t) => typeof t === 'string')) {
    throw new UserError(`templates ${path} must be a non-empty JSON array of strings`);
  }
  for (const t of value as string[]) {
    // Python's str.format would read any other brace as a field: accept exactly one `{}` and no other.
    if (t.split(TEMPLATE_SLOT).length !== 2 || t.replace(TEMPLATE_SLOT, '').match(/[{}]/)) {
      throw new UserError(`template ${JSON.stringify(t)} in ${path} must hold exactly one '{}' and no other braces`);
    }
  }
  return value as string[];
}

/** SEARLE's `template.format(f' {name} ')`. Split/join, not String.replace, so `$&` in a name stays literal. */
export function fillTemplate(template: string, name: string): string {
  return template.split(TEMPLATE_SLOT).join(` ${name} `);
}

export function templatesHash(templates: readonly string[]): string {
  return hashJson({ templates, fill: FILL_RULE });
}
