// `baton secret create|ls|inspect|rm`: sensitive data for services; stored sealed by the
// managers, given only to the nodes whose tasks use it, never shown again.
import type { Argv } from 'yargs';
import type { GlobalArgs } from './context.js';
import { dataCommand } from './data-command.js';

export function secretCommand(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return dataCommand('secret', y);
}
