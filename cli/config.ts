// `baton config create|ls|inspect|rm`: non-sensitive files for services (inspect shows the data).
import type { Argv } from 'yargs';
import type { GlobalArgs } from './context.js';
import { dataCommand } from './data-command.js';

export function configCommand(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return dataCommand('config', y);
}
