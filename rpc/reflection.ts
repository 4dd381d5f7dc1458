// gRPC server reflection (grpc.reflection.v1, and v1alpha for older tools), beside the health
// service: lists the services a server has and serves their descriptors, loaded from
// proto/*.proto (and the health service's own .proto) with @grpc/proto-loader. @grpc/reflection
// is not among the project's packages; this is the protocol's small server side.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs/minimal.js';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REFLECTION_V1 = 'grpc.reflection.v1.ServerReflection';
export const REFLECTION_V1ALPHA = 'grpc.reflection.v1alpha.ServerReflection';

/** The repository's (or the installed package's) proto/, from dist/rpc/ or rpc/. */
export function protoDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [resolve(here, '../../proto'), resolve(here, '../proto')]) {
    if (existsSync(join(candidate, 'control.proto'))) return candidate;
  }
  throw new Error(`no proto/ directory next to ${here}`);
}

/** grpc-health-check's health.proto, if that package ships it. */
function healthProto(): string | undefined {
  try {
    const main = createRequire(import.meta.url).resolve('grpc-health-check');
    for (let dir = dirname(main); dir !== dirname(dir); dir = dirname(dir)) {
      const file = join(dir, 'proto/health/v1/health.proto');
      if (existsSync(file)) return file;
    }
  } catch {
    // Not installed: reflection simply does not describe the health service.
  }
  return undefined;
}

interface Descriptors {
  /** Serialized FileDescriptorProto by file name. */
  files: Map<string, Buffer>;
  /** File name by fully qualified top-level symbol (message, enum, service). */
  symbols: Map<string, string>;
  /** Each file's imports. */
  deps: Map<string, string[]>;
}

/** The descriptors of every proto/*.proto (and health.proto), as proto-loader builds them. */
export function loadDescriptors(dir = protoDir()): { definition: protoLoader.PackageDefinition; descriptors: Descriptors } {
  const files = readdirSync(dir).filter((f) => f.endsWith('.proto'));
  const health = healthProto();
  const definition = protoLoader.loadSync(health ? [...files, health] : files, { includeDirs: [dir], keepCase: true, oneofs: true, longs: String, defaults: false });
  const descriptors: Descriptors = { files: new Map(), symbols: new Map(), deps: new Map() };
  for (const entry of Object.values(definition)) {
    const buffers = 'fileDescriptorProtos' in entry ? (entry.fileDescriptorProtos as Buffer[]) : Object.values(entry).flatMap((m) => (m as grpc.MethodDefinition<unknown, unknown> & { requestType?: { fileDescriptorProtos?: Buffer[] } }).requestType?.fileDescriptorProtos ?? []);
    for (const buffer of buffers) {
      const file = readFileDescriptor(buffer);
      if (descriptors.files.has(file.name)) continue;
      descriptors.files.set(file.name, buffer);
      descriptors.deps.set(file.name, file.dependencies);
      for (const s of file.symbols) descriptors.symbols.set(file.pkg ? `${file.pkg}.${s}` : s, file.name);
    }
  }
  return { definition, descriptors };
}

/**
 * The fields of a FileDescriptorProto that reflection needs: name (1), package (2), imports (3),
 * and the names of its top-level messages (4), enums (5) and services (6).
 */
function readFileDescriptor(buffer: Uint8Array): { name: string; pkg: string; dependencies: string[]; symbols: string[] } {
  const out = { name: '', pkg: '', dependencies: [] as string[], symbols: [] as string[] };
  const r = protobuf.Reader.create(buffer);
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 1) out.name = r.string();
    else if (field === 2) out.pkg = r.string();
    else if (field === 3) out.dependencies.push(r.string());
    else if (field === 4 || field === 5 || field === 6) out.symbols.push(nameOf(r.bytes()));
    else r.skipType(tag & 7);
  }
  return out;
}

/** Field 1 (name) of a DescriptorProto, EnumDescriptorProto or ServiceDescriptorProto. */
function nameOf(bytes: Uint8Array): string {
  const r = protobuf.Reader.create(bytes);
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 === 1) return r.string();
    r.skipType(tag & 7);
  }
  return '';
}

interface ReflectionRequest {
  host?: string;
  message_request?: string;
  file_by_filename?: string;
  file_containing_symbol?: string;
  file_containing_extension?: { containing_type?: string; extension_number?: number };
  all_extension_numbers_of_type?: string;
  list_services?: string;
}

type Response = Record<string, unknown>;

/** Answers one reflection request. */
export function answer(descriptors: Descriptors, services: () => readonly string[], req: ReflectionRequest): Response {
  const base = { valid_host: req.host ?? '', original_request: req };
  const notFound = (what: string): Response => ({ ...base, error_response: { error_code: grpc.status.NOT_FOUND, error_message: `${what} not found` } });
  const withDeps = (name: string): Response => {
    const order: string[] = [];
    const visit = (f: string): void => {
      if (order.includes(f) || !descriptors.files.has(f)) return;
      order.push(f);
      for (const d of descriptors.deps.get(f) ?? []) visit(d);
    };
    visit(name);
    return { ...base, file_descriptor_response: { file_descriptor_proto: order.map((f) => descriptors.files.get(f)!) } };
  };
  switch (req.message_request) {
    case 'list_services':
      return { ...base, list_services_response: { service: services().map((name) => ({ name })) } };
    case 'file_by_filename': {
      const name = req.file_by_filename ?? '';
      return descriptors.files.has(name) ? withDeps(name) : notFound(`file ${name}`);
    }
    case 'file_containing_symbol': {
      // A method or nested type: the file of its service or outermost message.
      const symbol = (req.file_containing_symbol ?? '').replace(/^\./, '');
      const parts = symbol.split('.');
      for (let n = parts.length; n > 0; n--) {
        const file = descriptors.symbols.get(parts.slice(0, n).join('.'));
        if (file) return withDeps(file);
      }
      return notFound(`symbol ${symbol}`);
    }
    case 'file_containing_extension':
      return notFound(`extension ${req.file_containing_extension?.extension_number ?? 0} of ${req.file_containing_extension?.containing_type ?? ''}`);
    case 'all_extension_numbers_of_type':
      // No baton message has extensions (proto3): an empty list for a known type.
      return descriptors.symbols.has(req.all_extension_numbers_of_type ?? '')
        ? { ...base, all_extension_numbers_response: { base_type_name: req.all_extension_numbers_of_type, extension_number: [] } }
        : notFound(`type ${req.all_extension_numbers_of_type ?? ''}`);
    default:
      return { ...base, error_response: { error_code: grpc.status.INVALID_ARGUMENT, error_message: 'empty reflection request' } };
  }
}

let loaded: ReturnType<typeof loadDescriptors> | undefined;

/**
 * Adds reflection (v1 and v1alpha) to `server`; `services` names what the server serves at the
 * time of the question (a node's set changes with its role).
 */
export function addReflection(server: grpc.Server, services: () => readonly string[]): void {
  loaded ??= loadDescriptors();
  const { definition, descriptors } = loaded;
  const v1 = definition[REFLECTION_V1] as grpc.ServiceDefinition;
  // v1alpha's messages are v1's, field for field: the same codecs under the older path.
  const v1alpha = Object.fromEntries(Object.entries(v1).map(([k, m]) => [k, { ...m, path: m.path.replace('.v1.', '.v1alpha.') }])) as grpc.ServiceDefinition;
  const handler = (call: grpc.ServerDuplexStream<ReflectionRequest, Response>): void => {
    call.on('data', (req: ReflectionRequest) => call.write(answer(descriptors, services, req)));
    call.on('end', () => call.end());
    call.on('error', () => undefined);
  };
  server.addService(v1, { ServerReflectionInfo: handler });
  server.addService(v1alpha, { ServerReflectionInfo: handler });
}
