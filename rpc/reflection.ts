// gRPC server reflection (grpc.reflection.v1, and v1alpha for older tools) beside the health
// service, by @grpc/reflection: lists the services a server has and serves their descriptors,
// loaded from proto/*.proto (with the health and reflection services' own .proto files) by
// @grpc/proto-loader. proto-loader describes each protobuf package as one file (baton.proto).
import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REFLECTION_V1 = 'grpc.reflection.v1.ServerReflection';
export const REFLECTION_V1ALPHA = 'grpc.reflection.v1alpha.ServerReflection';
export const HEALTH = 'grpc.health.v1.Health';

/** The repository's (or the installed package's) proto/, from dist/rpc/ or rpc/. */
export function protoDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [resolve(here, '../../proto'), resolve(here, '../proto')]) {
    if (existsSync(join(candidate, 'control.proto'))) return candidate;
  }
  throw new Error(`no proto/ directory next to ${here}`);
}

/** The folder above `relative` in an installed package's files, if it is there. */
function packageProtoRoot(pkg: string, relative: string): string | undefined {
  try {
    for (let dir = dirname(createRequire(import.meta.url).resolve(pkg)); dir !== dirname(dir); dir = dirname(dir)) {
      for (const root of [join(dir, 'proto'), join(dir, 'build/proto')]) if (existsSync(join(root, relative))) return root;
    }
  } catch {
    // Not installed: that service is simply not described.
  }
  return undefined;
}

const HEALTH_PROTO = 'health/v1/health.proto';
const REFLECTION_PROTOS = ['grpc/reflection/v1/reflection.proto', 'grpc/reflection/v1alpha/reflection.proto'];

let definition: protoLoader.PackageDefinition | undefined;

/** Every proto/*.proto, and the health and reflection services' files, as proto-loader loads them. */
export function reflectedDefinition(): protoLoader.PackageDefinition {
  if (definition) return definition;
  const dir = protoDir();
  const files = readdirSync(dir).filter((f) => f.endsWith('.proto'));
  const includeDirs = [dir];
  const health = packageProtoRoot('grpc-health-check', HEALTH_PROTO);
  if (health) {
    includeDirs.push(health);
    files.push(HEALTH_PROTO);
  }
  const reflection = packageProtoRoot('@grpc/reflection', REFLECTION_PROTOS[0]!);
  if (reflection) {
    includeDirs.push(reflection);
    files.push(...REFLECTION_PROTOS);
  }
  definition = protoLoader.loadSync(files, { includeDirs });
  return definition;
}

/** Adds reflection (v1 and v1alpha) to `server`, listing `services`: what that server serves. */
export function addReflection(server: grpc.Server, services: readonly string[]): void {
  new ReflectionService(reflectedDefinition(), { services: [...services] }).addToServer(server);
}
