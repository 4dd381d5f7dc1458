// Docker's mounts of a service (`--mount type=volume|bind|tmpfs,source=…,target=…`): the parser
// of the CSV syntax `docker service create --mount` takes, and the rules validateServiceSpec
// applies to the Mount messages whoever sent them (CLI, Compose, another client). The messages
// are Docker's where Docker has one (its CLI's opts/mount.go and the engine's mount parser).
import { baton } from '../proto/gen/baton.js';
import { parseBytes } from './values.js';
import { MAX_LABEL_KEY_LENGTH, MAX_LABEL_VALUE_LENGTH, MAX_MEMORY_BYTES, MAX_MOUNTS, MAX_MOUNT_OPTIONS, MAX_PATH_LENGTH } from './limits.js';
import { echo, ok, problem, type Parsed } from './parsed.js';
import { isTemplate } from './templates.js';

/** Docker's rule for a local volume's name (at least two characters). */
export const VOLUME_NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Docker's words for a volume name `volume create` refuses, or '' when the name is good. */
export function volumeNameProblem(name: string): string {
  if (name === '') return 'a volume name is required';
  if (VOLUME_NAME_PATTERN.test(name)) return '';
  return `create ${echo(name)}: "${echo(name)}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed`;
}

const TYPES: Record<string, baton.MountType> = {
  volume: baton.MountType.MOUNT_VOLUME,
  bind: baton.MountType.MOUNT_BIND,
  tmpfs: baton.MountType.MOUNT_TMPFS,
};

export function mountTypeName(type: baton.MountType | null | undefined): 'volume' | 'bind' | 'tmpfs' {
  return type === baton.MountType.MOUNT_BIND ? 'bind' : type === baton.MountType.MOUNT_TMPFS ? 'tmpfs' : 'volume';
}

/** One CSV record as Go's encoding/csv reads it: fields split on ',', a field may be "quoted" ("" is a quote). */
function csvFields(text: string): string[] | undefined {
  const fields: string[] = [];
  let at = 0;
  for (;;) {
    let field = '';
    if (text[at] === '"') {
      at++;
      for (;;) {
        if (at >= text.length) return undefined;
        if (text[at] === '"') {
          if (text[at + 1] === '"') {
            field += '"';
            at += 2;
            continue;
          }
          at++;
          break;
        }
        field += text[at++];
      }
      if (at < text.length && text[at] !== ',') return undefined;
    } else {
      const end = text.indexOf(',', at);
      field = text.slice(at, end < 0 ? text.length : end);
      // Go's reader: a quote inside a field that is not quoted is an error (a bare quote).
      if (field.includes('"')) return undefined;
      at = end < 0 ? text.length : end;
    }
    fields.push(field);
    if (at >= text.length) return fields;
    at++; // the comma
  }
}

const BOOLS: Record<string, boolean> = { '1': true, t: true, T: true, true: true, TRUE: true, True: true, '0': false, f: false, F: false, false: false, FALSE: false, False: false };

/**
 * `--mount` as Docker's CLI takes it: type (volume, the default, bind or tmpfs), source|src,
 * target|destination|dst, readonly|ro[=true|false|1|0], volume-driver, volume-opt=K=V and
 * volume-label=K=V (repeatable), volume-nocopy[=bool], tmpfs-size (a byte size: 64m) and
 * tmpfs-mode (octal: 1770). Every problem of the text is in the one line returned; the mount's
 * own rules (an absolute target, a bind's source…) are validateServiceSpec's.
 */
export function parseMount(text: string, flag = '--mount'): Parsed<baton.Mount.$Properties> {
  const fields = csvFields(text);
  if (fields === undefined) return problem(`bad ${flag} "${echo(text)}": an unterminated or misplaced quote`);
  const problems: string[] = [];
  const m: baton.Mount.$Properties = { type: baton.MountType.MOUNT_VOLUME, source: '', target: '', readOnly: false };
  let typeName = 'volume';
  const volumeKeys: string[] = [];
  const tmpfsKeys: string[] = [];
  const bool = (key: string, value: string | undefined): boolean => {
    if (value === undefined) return true;
    const b = BOOLS[value];
    if (b === undefined) problems.push(`invalid value for ${key}: ${echo(value)}`);
    return b ?? false;
  };
  const keyValue = (key: string, value: string, into: Record<string, string>): void => {
    const eq = value.indexOf('=');
    // As Docker's setValueOnMap: `k` alone is k with an empty value.
    const k = eq < 0 ? value : value.slice(0, eq);
    if (k === '') problems.push(`invalid value for ${key}: ${echo(value)} (want KEY=VALUE)`);
    else into[k] = eq < 0 ? '' : value.slice(eq + 1);
  };
  for (const field of fields) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    const value = eq < 0 ? undefined : field.slice(eq + 1);
    if (value === undefined && key !== 'readonly' && key !== 'ro' && key !== 'volume-nocopy') {
      problems.push(`invalid field '${echo(field)}' must be a key=value pair`);
      continue;
    }
    switch (key) {
      case 'type': {
        typeName = value!.toLowerCase();
        const type = TYPES[typeName];
        if (typeName === '') problems.push('type is required');
        else if (type === undefined) problems.push(`invalid mount type "${echo(value!)}" (want volume, bind or tmpfs)`);
        else m.type = type;
        break;
      }
      case 'source':
      case 'src':
        m.source = value!;
        break;
      case 'target':
      case 'destination':
      case 'dst':
        m.target = value!;
        break;
      case 'readonly':
      case 'ro':
        m.readOnly = bool(key, value);
        break;
      case 'volume-driver':
        volumeKeys.push(key);
        m.volumeDriver = value!;
        break;
      case 'volume-opt':
        volumeKeys.push(key);
        keyValue(key, value!, (m.volumeOptions ??= {}));
        break;
      case 'volume-label':
        volumeKeys.push(key);
        keyValue(key, value!, (m.volumeLabels ??= {}));
        break;
      case 'volume-nocopy':
        volumeKeys.push(key);
        m.volumeNocopy = bool(key, value);
        break;
      case 'tmpfs-size': {
        tmpfsKeys.push(key);
        const size = parseBytes(value!, `${flag} ${key}`);
        if (size.ok) m.tmpfsSizeBytes = size.value;
        else problems.push(`invalid value for ${key}: ${echo(value!)} (${size.why})`);
        break;
      }
      case 'tmpfs-mode':
        tmpfsKeys.push(key);
        if (/^[0-7]{1,4}$/.test(value!)) m.tmpfsMode = parseInt(value!, 8);
        else problems.push(`invalid value for ${key}: ${echo(value!)} (want an octal mode, e.g. 1770)`);
        break;
      default:
        problems.push(`unexpected key '${echo(key)}' in '${echo(field)}'`);
    }
  }
  if (m.target === '') problems.push('target is required');
  if (TYPES[typeName] !== undefined) {
    if (volumeKeys.length > 0 && m.type !== baton.MountType.MOUNT_VOLUME) problems.push(`cannot mix 'volume-*' options with mount type '${typeName}'`);
    if (tmpfsKeys.length > 0 && m.type !== baton.MountType.MOUNT_TMPFS) problems.push(`cannot mix 'tmpfs-*' options with mount type '${typeName}'`);
  }
  if (problems.length > 0) return problem(`bad ${flag} "${echo(text)}": ${problems.join(', ')}`, problems.join(', '));
  return ok(m);
}

/** A mount as `--mount` writes it (inspect --pretty, and Docker's own order of keys). */
export function formatMount(m: baton.Mount.$Properties): string {
  const parts = [`type=${mountTypeName(m.type)}`];
  if (m.source) parts.push(`source=${m.source}`);
  parts.push(`target=${m.target ?? ''}`);
  if (m.readOnly) parts.push('readonly');
  return parts.join(',');
}

/**
 * Every problem of a service's mounts. `dataTargets` are the paths its secrets and configs take
 * in the container: a mount may not cover one either (the engine refuses two mounts on one path).
 */
export function mountProblems(mounts: readonly baton.Mount.$Properties[] | null | undefined, dataTargets: readonly string[]): string[] {
  const out: string[] = [];
  const list = mounts ?? [];
  if (list.length > MAX_MOUNTS) out.push(`${list.length} mounts, more than the limit of ${MAX_MOUNTS}`);
  const seen = new Set(dataTargets);
  for (const m of list.slice(0, MAX_MOUNTS)) {
    const type = m.type ?? baton.MountType.MOUNT_VOLUME;
    const known = Object.values(TYPES).includes(type);
    const name = known ? mountTypeName(type) : String(type);
    const bad = (why: string): void => void out.push(`invalid mount config for type "${name}": ${why}`);
    if (!known) {
      out.push(`mount type ${String(type)} is unknown (want volume, bind or tmpfs)`);
      continue;
    }
    const target = m.target ?? '';
    const source = m.source ?? '';
    if (target === '') bad('field Target must not be empty');
    else if (target.length > MAX_PATH_LENGTH || source.length > MAX_PATH_LENGTH) bad(`a path is more than ${MAX_PATH_LENGTH} characters`);
    else if (!target.startsWith('/')) bad(`invalid mount path: '${echo(target)}' mount path must be absolute`);
    else if (/^\/+$/.test(target)) bad("invalid specification: destination can't be '/'");
    else {
      const clean = target.replace(/\/+$/, '');
      if (seen.has(clean)) out.push(`invalid duplicate mount point: ${echo(target)}`);
      seen.add(clean);
    }
    if (type === baton.MountType.MOUNT_BIND) {
      if (source === '') bad('field Source must not be empty');
      else if (!source.startsWith('/')) bad(`invalid mount path: '${echo(source)}' mount path must be absolute`);
    }
    // A templated source ({{.Task.Slot}}) is checked as a template (spec/container.ts), and as a
    // name by the executor once the agent expanded it.
    if (type === baton.MountType.MOUNT_VOLUME && source !== '' && !isTemplate(source) && !VOLUME_NAME_PATTERN.test(source)) {
      out.push(
        `"${echo(source)}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
      );
    }
    if (type === baton.MountType.MOUNT_TMPFS && source !== '') bad('field Source must not be specified');
    const hasVolume = !!m.volumeDriver || !!m.volumeNocopy || Object.keys(m.volumeOptions ?? {}).length > 0 || Object.keys(m.volumeLabels ?? {}).length > 0;
    if (hasVolume && type !== baton.MountType.MOUNT_VOLUME) bad('field VolumeOptions must not be specified');
    const hasTmpfs = Number(m.tmpfsSizeBytes ?? 0) !== 0 || (m.tmpfsMode ?? 0) !== 0;
    if (hasTmpfs && type !== baton.MountType.MOUNT_TMPFS) bad('field TmpfsOptions must not be specified');
    const size = Number(m.tmpfsSizeBytes ?? 0);
    if (!Number.isInteger(size) || size < 0 || size > MAX_MEMORY_BYTES) bad(`tmpfs size ${size} is not a size from 0 to ${MAX_MEMORY_BYTES} bytes (16 TiB)`);
    if (!Number.isInteger(m.tmpfsMode ?? 0) || (m.tmpfsMode ?? 0) < 0 || (m.tmpfsMode ?? 0) > 0o7777) bad(`tmpfs mode ${m.tmpfsMode} is not a file mode (0 to 07777)`);
    if ((m.volumeDriver ?? '').length > 256) bad('the volume driver name is more than 256 characters');
    for (const [what, map] of [['volume options', m.volumeOptions], ['volume labels', m.volumeLabels]] as const) {
      const entries = Object.entries(map ?? {});
      if (entries.length > MAX_MOUNT_OPTIONS) bad(`${entries.length} ${what}, more than the limit of ${MAX_MOUNT_OPTIONS}`);
      if (entries.some(([k, v]) => k === '' || k.length > MAX_LABEL_KEY_LENGTH || v.length > MAX_LABEL_VALUE_LENGTH)) {
        bad(`${what}: a key is empty or longer than ${MAX_LABEL_KEY_LENGTH} characters, or a value longer than ${MAX_LABEL_VALUE_LENGTH}`);
      }
    }
  }
  return out;
}
