// Secrets and configs: the top-level declarations (`file:` relative to the compose file, or
// `external: true`) and the services' references to them (short `- db_password` or long
// `{source, target, mode}`).
import { baton } from '../../client/index.js';
import type { Node } from './reader.js';
import { stringMap } from './values.js';

export type ObjectKind = 'secret' | 'config';

/** A secret or config the stack uses: created from a file, or expected to exist. */
export interface ObjectDecl {
  kind: ObjectKind;
  /** The key under top-level `secrets:`/`configs:`. */
  key: string;
  /** The cluster object's name: `STACK_key`, the `name:` given, or the external name. */
  name: string;
  external: boolean;
  /** Absolute path of the data (not external). */
  file?: string;
  labels: Record<string, string>;
  /** Where it was declared, for messages: `compose.yml: secrets.db`. */
  where: string;
}

export function readDecls(section: Node, kind: ObjectKind, stack: string): ObjectDecl[] {
  return section.entries().map(([key, n]) => {
    // driver/template_driver/environment would change where the data comes from: errors.
    n.checkKeys(['file', 'external', 'name', 'labels']);
    const ext = n.child('external');
    // `external: {name: x}` is Compose's older way of naming an external object.
    const external = ext.isMap() ? (ext.checkKeys(['name']), true) : ext.present ? ext.bool() : false;
    const name = n.child('name').present ? n.child('name').string() : ext.isMap() && ext.child('name').present ? ext.child('name').string() : undefined;
    const file = n.child('file');
    if (external && file.present) file.fail(`cannot be used with external: true`);
    if (!external && !file.present) n.fail(`needs file: (a path relative to the compose file) or external: true`);
    const labels = stringMap(n.child('labels'));
    return {
      kind,
      key,
      name: name ?? (external ? key : `${stack}_${key}`),
      external,
      ...(external ? {} : { file: file.string() }),
      labels,
      where: `${n.file}: ${n.path}`,
    };
  });
}

/** A service's `secrets:` → references by name (ids are filled in at deploy). */
export function readSecretRefs(list: Node, decls: ReadonlyMap<string, ObjectDecl>): baton.SecretReference.$Properties[] {
  return readRefs(list, decls, 'secret').map((r) => ({ secretId: '', secretName: r.name, target: r.target ?? r.source, mode: r.mode }));
}

export function readConfigRefs(list: Node, decls: ReadonlyMap<string, ObjectDecl>): baton.ConfigReference.$Properties[] {
  return readRefs(list, decls, 'config').map((r) => ({ configId: '', configName: r.name, target: r.target ?? `/${r.source}`, mode: r.mode }));
}

interface Ref {
  source: string;
  name: string;
  target: string | undefined;
  mode: number;
}

function readRefs(list: Node, decls: ReadonlyMap<string, ObjectDecl>, kind: ObjectKind): Ref[] {
  return list.items().map((item) => {
    let source: string;
    let target: string | undefined;
    let mode = 0o444;
    if (item.isMap()) {
      // uid/gid would set the file's owner: nothing to honour for a tmpfs file we own.
      item.checkKeys(['source', 'target', 'mode'], ['uid', 'gid']);
      if (!item.child('source').present) item.fail('needs a source');
      source = item.child('source').string();
      if (item.child('target').present) target = item.child('target').string();
      if (item.child('mode').present) mode = item.child('mode').int(0);
      if (mode > 0o777) item.child('mode').fail(`must be a file mode like 0440 (got ${mode.toString(8)} in octal)`);
    } else {
      source = item.string();
    }
    const decl = decls.get(source);
    if (!decl) return item.fail(`refers to ${kind} "${source}", which is not declared under top-level ${kind}s:`);
    return { source, name: decl.name, target, mode };
  });
}
