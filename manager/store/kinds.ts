// The kinds of object the store keeps, and what the store needs to know about each: its
// codec, whether its name is unique, and where its name and labels live.
import { baton } from '../../proto/gen/baton.js';
import type { DeepReadonly } from './freeze.js';

/** The decoded message of each kind (the StoreObject oneof field of the same name). */
export interface KindMap {
  cluster: baton.Cluster;
  node: baton.Node;
  service: baton.Service;
  task: baton.Task;
  secret: baton.Secret;
  config: baton.Config;
  network: baton.Network;
  certificate: baton.ClientCertificate;
}

/** What a proposer may pass for each kind (plain objects are fine). */
export interface PropsMap {
  cluster: baton.Cluster.$Properties;
  node: baton.Node.$Properties;
  service: baton.Service.$Properties;
  task: baton.Task.$Properties;
  secret: baton.Secret.$Properties;
  config: baton.Config.$Properties;
  network: baton.Network.$Properties;
  certificate: baton.ClientCertificate.$Properties;
}

export type Kind = keyof KindMap;

/** In snapshot order. */
export const KINDS: readonly Kind[] = ['cluster', 'node', 'network', 'service', 'task', 'secret', 'config', 'certificate'];

/** A stored object: frozen, and meta always present. */
export type Stored<K extends Kind> = DeepReadonly<KindMap[K]> & { readonly meta: DeepReadonly<baton.Meta> };

/** A proposer's input: a stored object (frozen) or a plain one both fit. */
export type Input<K extends Kind> = DeepReadonly<PropsMap[K]>;

/** A stored object with its kind, for code that handles every kind. */
export type StoreObjectT = { [K in Kind]: { kind: K; object: Stored<K> } }[Kind];

interface Codec<T> {
  encode(m: T): { finish(): Uint8Array };
  decode(data: Uint8Array): T;
}

const CODECS: { [K in Kind]: Codec<KindMap[K]> } = {
  cluster: baton.Cluster,
  node: baton.Node,
  service: baton.Service,
  task: baton.Task,
  secret: baton.Secret,
  config: baton.Config,
  network: baton.Network,
  certificate: baton.ClientCertificate,
};

export function isKind(s: string): s is Kind {
  return (KINDS as readonly string[]).includes(s);
}

/** Kinds whose spec.annotations.name is unique (Docker: node names are hostnames and may repeat). */
export function hasUniqueNames(kind: Kind): boolean {
  return kind !== 'node' && kind !== 'task';
}

/** The fields names and labels come from, in every kind that has them. */
interface Annotated {
  readonly spec?: { readonly annotations?: DeepReadonly<baton.Annotations.$Properties> | null } | null;
  readonly description?: { readonly hostname?: string | null } | null;
}

/**
 * The name an object is found by. A node without a name of its own goes by its hostname, as
 * in Docker; tasks have no names.
 */
export function nameOf(kind: Kind, obj: object): string {
  if (kind === 'task') return '';
  const o = obj as Annotated;
  const name = o.spec?.annotations?.name ?? '';
  if (name === '' && kind === 'node') return o.description?.hostname ?? '';
  return name;
}

export function labelsOf(kind: Kind, obj: object): Readonly<Record<string, string>> {
  if (kind === 'task') return {};
  return (obj as Annotated).spec?.annotations?.labels ?? {};
}

export function encodeObject<K extends Kind>(kind: K, obj: Input<K>): Uint8Array {
  return (CODECS[kind] as unknown as Codec<Input<K>>).encode(obj).finish();
}

export function decodeObject<K extends Kind>(kind: K, data: Uint8Array): KindMap[K] {
  return CODECS[kind].decode(data);
}

/** A mutable deep copy of a stored object, to change and propose as an update. */
export function cloneObject<K extends Kind>(kind: K, obj: Input<K>): KindMap[K] {
  return decodeObject(kind, encodeObject(kind, obj));
}

/** The kind set in a StoreObject's oneof, or undefined if none is. */
export function kindOf(so: baton.internal.StoreObject): Kind | undefined {
  const k = so.object;
  return k !== undefined && isKind(k) && so[k] != null ? k : undefined;
}

export function toStoreObject<K extends Kind>(kind: K, obj: Input<K>): baton.internal.StoreObject.$Properties {
  return { [kind]: obj };
}
