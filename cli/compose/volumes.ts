// Volumes of a stack, as Docker's `stack deploy` converts them into mounts of the services'
// specs: the top-level `volumes:` (a named volume `x` is created on a task's node as STACK_x, or
// the `name:` given, labelled with the stack; `external: true` ones are used as they are), and
// each service's `volumes:` (short `SOURCE:TARGET[:OPTIONS]` or long `type: volume|bind|tmpfs`)
// and `tmpfs:`. Nothing is created here: a volume is made by the node that runs the task.
//
// Where we differ from Docker, on purpose:
// - `tmpfs:` on a service: Docker's stack deploy ignores it (swarm services have no tmpfs list);
//   here it becomes tmpfs mounts, what `docker compose up` makes of it.
// - bind propagation: the Mount message has no field for it, so anything but rprivate (Docker's
//   default) is refused instead of silently giving other sharing semantics.
// - a short-syntax option Docker ignores without a word (`z`, `cached`, a typo) is warned about.
import { isAbsolute, posix, resolve } from 'node:path';
import { BatonError, baton } from '../../client/index.js';
import { VOLUME_NAME_PATTERN, parseBytes } from '../../spec/index.js';
import { ComposeProblems, type Node } from './reader.js';
import { labels, stringMap } from './values.js';

export interface VolumeDecl {
  /** The key under top-level `volumes:`. */
  key: string;
  /** The volume's name on a node: STACK_key, the `name:` given, or the external name. */
  name: string;
  external: boolean;
  driver: string;
  options: Record<string, string>;
  labels: Record<string, string>;
}

/** Docker's default propagation for a bind, the only one a baton mount has. */
const DEFAULT_PROPAGATION = 'rprivate';
const PROPAGATIONS = ['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'];

export function readVolumeDecls(section: Node, stack: string): VolumeDecl[] {
  return section.entries().map(([key, n]) => {
    // `data:` with nothing under it: a volume with every default (the local driver).
    if (n.present && !n.isMap()) n.fail(`must be a mapping${n.got()}`);
    n.checkKeys(['driver', 'driver_opts', 'external', 'name', 'labels']);
    const ext = n.child('external');
    const external = ext.isMap() ? (ext.checkKeys(['name']), true) : ext.present ? ext.bool() : false;
    const named = n.child('name').present ? n.child('name').string() : ext.isMap() && ext.child('name').present ? ext.child('name').string() : undefined;
    if (external) {
      // Docker's loader: `conflicting parameters "external" and "driver" specified for volume "x"`.
      for (const k of ['driver', 'driver_opts', 'labels']) if (n.child(k).present) n.child(k).fail(`cannot be used with external: true (conflicting parameters "external" and "${k}" specified for volume "${key}")`);
    }
    const name = named ?? (external ? key : `${stack}_${key}`);
    if (!VOLUME_NAME_PATTERN.test(name)) n.fail(`makes a volume name Docker would refuse ("${name}"): use letters, digits, '_', '.', '-', starting with a letter or digit, at least 2 characters`);
    const driver = n.child('driver');
    return {
      key,
      name,
      external,
      driver: driver.present ? driver.string() : '',
      options: stringMap(n.child('driver_opts')),
      labels: labels(n.child('labels')),
    };
  });
}

export interface MountContext {
  stack: string;
  volumes: ReadonlyMap<string, VolumeDecl>;
  /** The directory a relative bind source is resolved from: the first compose file's, as Docker's. */
  dir: string;
  /** `~` in a bind source. */
  home: string;
  namespaceLabel: string;
}

/**
 * A service's `volumes:` then `tmpfs:` as mounts, in the file's order (Docker's). Every bad
 * entry of the service is reported at once.
 */
export function readServiceMounts(service: Node, ctx: MountContext): baton.Mount.$Properties[] {
  const problems: string[] = [];
  const mounts: { at: Node; mount: baton.Mount.$Properties }[] = [];
  const each = (at: Node, read: () => baton.Mount.$Properties): void => {
    try {
      mounts.push({ at, mount: read() });
    } catch (err) {
      if (!(err instanceof BatonError)) throw err;
      problems.push(...ComposeProblems.of(err));
    }
  };
  const list = service.child('volumes');
  for (const item of list.items()) each(item, () => (item.isMap() ? longSyntax(item, ctx) : shortSyntax(item, ctx)));
  const tmpfs = service.child('tmpfs');
  for (const item of Array.isArray(tmpfs.value) ? tmpfs.items() : tmpfs.present ? [tmpfs] : []) each(item, () => tmpfsEntry(item));
  // Two mounts on one path: the engine refuses the container ("Duplicate mount point").
  const seen = new Map<string, Node>();
  for (const { at, mount } of mounts) {
    const first = seen.get(mount.target ?? '');
    if (first) problems.push(`${at.file}: ${at.path} mounts ${mount.target ?? ''} again (already mounted by ${first.path}): Duplicate mount point`);
    else seen.set(mount.target ?? '', at);
  }
  if (problems.length > 0) throw new ComposeProblems(problems);
  return mounts.map((m) => m.mount);
}

/** `SOURCE:TARGET[:OPTIONS]`, `TARGET` alone (an anonymous volume); Docker's ParseVolume rules. */
function shortSyntax(item: Node, ctx: MountContext): baton.Mount.$Properties {
  const spec = item.string();
  if (spec.trim() === '') item.fail('is empty: invalid empty volume spec');
  const parts = spec.split(':');
  if (parts.some((p) => p === '')) item.fail(`is "${spec}": invalid spec: ${spec}: empty section between colons`);
  if (parts.length > 3) item.fail(`is "${spec}": invalid spec: ${spec}: too many colons`);
  const [first, second, options] = parts as [string, string | undefined, string | undefined];
  const source = second === undefined ? '' : first;
  const target = second ?? first;
  let readOnly = false;
  let nocopy = false;
  let propagation: string | undefined;
  for (const option of options?.split(',') ?? []) {
    if (option === 'ro') readOnly = true;
    else if (option === 'rw') readOnly = false;
    else if (option === 'nocopy') nocopy = true;
    else if (PROPAGATIONS.includes(option)) propagation = option;
    else item.warn(`has option "${option}", which is not used (Docker's stack deploy ignores it too)`);
  }
  if (source !== '' && isPath(source)) {
    if (nocopy) item.fail(`has option nocopy on a bind mount: volume options are incompatible with type bind`);
    if (propagation !== undefined && propagation !== DEFAULT_PROPAGATION) item.fail(unsupportedPropagation(propagation));
    return { type: baton.MountType.MOUNT_BIND, source: bindSource(source, ctx), target: absoluteTarget(item, target), readOnly };
  }
  if (propagation !== undefined) item.fail(`has option ${propagation} on a volume: bind options are incompatible with type volume`);
  return namedVolume(item, source, absoluteTarget(item, target), readOnly, nocopy, ctx);
}

/** Docker's isFilePath: a source that is a path is a bind, anything else names a volume. */
function isPath(source: string): boolean {
  return source.startsWith('.') || source.startsWith('/') || source.startsWith('~');
}

function bindSource(source: string, ctx: MountContext): string {
  const expanded = source === '~' ? ctx.home : source.startsWith('~/') ? posix.join(ctx.home, source.slice(2)) : source;
  return isAbsolute(expanded) ? posix.normalize(expanded) : resolve(ctx.dir, expanded);
}

function absoluteTarget(at: Node, target: string): string {
  if (!target.startsWith('/')) at.fail(`has target "${target}": invalid mount path, it must be absolute`);
  // Cleaned as the engine cleans it, so `/data/` and `/data` are one mount point.
  const clean = posix.normalize(target);
  return clean.length > 1 && clean.endsWith('/') ? clean.slice(0, -1) : clean;
}

function unsupportedPropagation(p: string): string {
  return `asks for bind propagation ${p}, which is not supported: baton's bind mounts are always ${DEFAULT_PROPAGATION} (Docker's default)`;
}

function namedVolume(at: Node, source: string, target: string, readOnly: boolean, nocopy: boolean, ctx: MountContext): baton.Mount.$Properties {
  const mount: baton.Mount.$Properties = { type: baton.MountType.MOUNT_VOLUME, source: '', target, readOnly, volumeNocopy: nocopy };
  // An anonymous volume: made for the task, no options but nocopy.
  if (source === '') return mount;
  const decl = ctx.volumes.get(source);
  if (!decl) at.fail(`uses undefined volume "${source}": declare it under top-level volumes: (a path for a bind starts with /, ./ or ~)`);
  mount.source = decl.name;
  // An external volume is used as it is: no driver, options or labels of ours.
  if (decl.external) return mount;
  mount.volumeDriver = decl.driver;
  mount.volumeOptions = { ...decl.options };
  mount.volumeLabels = { ...decl.labels, [ctx.namespaceLabel]: ctx.stack };
  return mount;
}

/** `type:`, `source:`, `target:`, `read_only:` and the options of that type only (Docker's checks). */
function longSyntax(item: Node, ctx: MountContext): baton.Mount.$Properties {
  item.checkKeys(['type', 'source', 'target', 'read_only', 'volume', 'bind', 'tmpfs'], ['consistency']);
  const typeNode = item.child('type');
  if (!typeNode.present) item.fail('needs a type: volume, bind or tmpfs');
  const type = typeNode.text();
  if (type === 'npipe' || type === 'cluster') typeNode.fail(`is ${type}, which is not supported (volume, bind or tmpfs)`);
  if (type !== 'volume' && type !== 'bind' && type !== 'tmpfs') typeNode.fail(`must be volume, bind or tmpfs (got "${type}")`);
  const targetNode = item.child('target');
  if (!targetNode.present) item.fail('needs a target (the path in the container)');
  const target = absoluteTarget(targetNode, targetNode.string());
  const sourceNode = item.child('source');
  const source = sourceNode.present ? sourceNode.string() : '';
  const readOnly = item.child('read_only').present ? item.child('read_only').bool() : false;
  // Options of another type are an error, as Docker's convert says it.
  for (const other of ['volume', 'bind', 'tmpfs'] as const) {
    if (other !== type && item.child(other).present) item.child(other).fail(`${other} options are incompatible with type ${type}`);
  }
  if (type === 'bind') {
    if (source === '') item.fail('needs a source: invalid bind source, source cannot be empty');
    const bind = item.child('bind');
    bind.checkKeys(['propagation']);
    if (bind.child('propagation').present) {
      const p = bind.child('propagation').oneOf(PROPAGATIONS);
      if (p !== DEFAULT_PROPAGATION) bind.child('propagation').fail(unsupportedPropagation(p));
    }
    return { type: baton.MountType.MOUNT_BIND, source: bindSource(source, ctx), target, readOnly };
  }
  if (type === 'tmpfs') {
    if (source !== '') sourceNode.fail('must be empty for a tmpfs: invalid tmpfs source, source must be empty');
    const tmpfs = item.child('tmpfs');
    tmpfs.checkKeys(['size', 'mode']);
    const size = tmpfs.child('size');
    const mode = tmpfs.child('mode');
    return {
      type: baton.MountType.MOUNT_TMPFS,
      target,
      readOnly,
      tmpfsSizeBytes: size.present ? bytes(size, typeof size.value === 'number' ? size.value : size.text()) : 0,
      tmpfsMode: mode.present ? fileMode(mode, typeof mode.value === 'number' ? mode.value : mode.text()) : 0,
    };
  }
  const volume = item.child('volume');
  volume.checkKeys(['nocopy']);
  const nocopy = volume.child('nocopy').present ? volume.child('nocopy').bool() : false;
  return namedVolume(sourceNode.present ? sourceNode : item, source, target, readOnly, nocopy, ctx);
}

/** `tmpfs: /run` or `- /run:size=64m,mode=1770`: the options `docker run --tmpfs` takes that a mount can carry. */
function tmpfsEntry(item: Node): baton.Mount.$Properties {
  const spec = item.string();
  const colon = spec.indexOf(':');
  const target = absoluteTarget(item, colon < 0 ? spec : spec.slice(0, colon));
  const mount: baton.Mount.$Properties = { type: baton.MountType.MOUNT_TMPFS, target, readOnly: false, tmpfsSizeBytes: 0, tmpfsMode: 0 };
  for (const option of colon < 0 ? [] : spec.slice(colon + 1).split(',')) {
    const eq = option.indexOf('=');
    const key = eq < 0 ? option : option.slice(0, eq);
    const value = option.slice(eq + 1);
    if (key === 'size' && eq >= 0) mount.tmpfsSizeBytes = bytes(item, value);
    else if (key === 'mode' && eq >= 0) mount.tmpfsMode = fileMode(item, value);
    else if (option === 'ro') mount.readOnly = true;
    else if (option === 'rw') mount.readOnly = false;
    else item.warn(`has option "${option}", which a tmpfs mount here cannot carry (only size=, mode=, ro, rw): ignored`);
  }
  return mount;
}

function bytes(at: Node, value: string | number): number {
  const parsed = parseBytes(value, at.path);
  if (!parsed.ok) at.fail(`has a bad tmpfs size ${JSON.stringify(value)}: want bytes, or a size like 64m or 1g`);
  return parsed.value;
}

/**
 * A file mode: a YAML number is the mode itself, as Docker's loaders take it (write `01777`,
 * read as octal); a string is octal digits (`"1777"`, `"0o1777"`).
 */
function fileMode(at: Node, value: string | number): number {
  const mode = typeof value === 'number' ? value : /^(0o)?[0-7]{1,5}$/i.test(value) ? parseInt(value.replace(/^0o/i, ''), 8) : NaN;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) at.fail(`has a bad tmpfs mode ${JSON.stringify(value)}: want octal permissions like 01777 or "0700"`);
  return mode;
}
