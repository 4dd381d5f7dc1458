// `--secret` and `--config` values of `service create` (and `service update --secret-add`,
// `--config-add`), Docker's way: `NAME`, or `source=NAME,target=...,mode=0400`, or the short
// `NAME,target=...`. Names are resolved to ids by the managers.
import { baton, BatonError } from '../client/index.js';
import { repeated } from './context.js';

interface Parsed {
  source: string;
  target: string;
  mode: number;
}

function parse(flag: '--secret' | '--config', text: string): Parsed {
  const bad = (why: string): never => {
    throw new BatonError('INVALID_ARGUMENT', `bad ${flag} "${text}": ${why}`);
  };
  const out: Parsed = { source: '', target: '', mode: 0 };
  text.split(',').forEach((part, i) => {
    const eq = part.indexOf('=');
    if (eq < 0) {
      if (i !== 0 || part === '') bad('want NAME or source=NAME[,target=PATH][,mode=0444]');
      out.source = part;
      return;
    }
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 'source' || key === 'src') out.source = value;
    else if (key === 'target' || key === 'dst' || key === 'destination') out.target = value;
    else if (key === 'mode') {
      if (!/^0?[0-7]{1,3}$/.test(value)) bad(`mode "${value}" is not an octal file mode such as 0400`);
      out.mode = parseInt(value, 8);
    } else if (key === 'uid' || key === 'gid') {
      // Docker's uid/gid: the file is owned by the agent's user here; say so rather than ignore it.
      bad(`${key} is not supported (files belong to the node's user; use mode)`);
    } else bad(`unknown key "${key}" (want source, target, mode)`);
  });
  if (!out.source) bad('a name (source=NAME) is required');
  return out;
}

export function parseSecretRef(text: string): baton.SecretReference.$Properties {
  const p = parse('--secret', text);
  return { secretName: p.source, target: p.target, mode: p.mode };
}

export function parseConfigRef(text: string): baton.ConfigReference.$Properties {
  const p = parse('--config', text);
  return { configName: p.source, target: p.target, mode: p.mode };
}

export interface DataRefFlags {
  'secret-add'?: string | string[] | undefined;
  'secret-rm'?: string | string[] | undefined;
  'config-add'?: string | string[] | undefined;
  'config-rm'?: string | string[] | undefined;
}

/**
 * `service update --secret-rm NAME --secret-add SPEC` (and the config pair), Docker's way: the
 * references named by --*-rm go (by name), then the added ones join; the managers resolve and
 * check the result as at create.
 */
export function applyDataRefFlags(container: baton.ContainerSpec.$Properties, f: DataRefFlags): void {
  const secretRm = new Set(repeated(f['secret-rm']));
  const configRm = new Set(repeated(f['config-rm']));
  container.secrets = [...(container.secrets ?? []).filter((r) => !secretRm.has(r.secretName ?? '')), ...repeated(f['secret-add']).map(parseSecretRef)];
  container.configs = [...(container.configs ?? []).filter((r) => !configRm.has(r.configName ?? '')), ...repeated(f['config-add']).map(parseConfigRef)];
}
