// Compose files written to a temp dir for the compose-* unit tests (removed at exit).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadStack, type StackDefinition } from '../../cli/compose/project.js';

const dir = mkdtempSync(join(tmpdir(), 'baton-compose-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** Load `yaml` as compose.yml (with `files` beside it) for stack "demo". */
export function loadYaml(yaml: string, env: Record<string, string> = {}, files: Record<string, string> = {}): { def: StackDefinition; warnings: string[]; file: string } {
  const at = join(dir, String(++n));
  mkdirSync(at);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(at, name), text);
  const file = join(at, 'compose.yml');
  writeFileSync(file, yaml);
  const warnings: string[] = [];
  return { def: loadStack([file], 'demo', env, (l) => warnings.push(l)), warnings, file };
}

/** The one error line loadYaml gives, with the temp path shortened to "compose.yml". */
export function errorOf(yaml: string, env: Record<string, string> = {}, files: Record<string, string> = {}): string {
  try {
    loadYaml(yaml, env, files);
  } catch (err) {
    return (err as Error).message.replace(/\/\S*\/compose\.yml/g, 'compose.yml');
  }
  throw new Error('expected an error');
}
