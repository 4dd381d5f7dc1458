// `baton version` (Docker's shape: a Client part, and a Server part from the manager's Info) and
// `baton --version` (one line, the client's).
import { BATON_VERSION, API_VERSION, softwareVersion, type BatonClient } from '../client/index.js';
import { withClient, type GlobalArgs } from './context.js';
import { print } from './output.js';

export function versionLine(): string {
  return `baton version ${BATON_VERSION}, API version ${API_VERSION}`;
}

function part(title: string, v: { version: string; apiVersion: string; nodeVersion: string; os: string; arch: string }): string {
  return [`${title}:`, ` Version:           ${v.version}`, ` API version:       ${v.apiVersion}`, ` Node version:      ${v.nodeVersion}`, ` OS/Arch:           ${v.os}/${v.arch}`].join('\n');
}

export async function runVersion(args: GlobalArgs & { format?: string }): Promise<void> {
  const client = softwareVersion();
  // The client part prints even when no manager answers, as Docker's does; then the error.
  let server: Awaited<ReturnType<BatonClient['info']>> | undefined;
  let failure: Error | undefined;
  try {
    server = await withClient(args, (c) => c.info());
  } catch (err) {
    failure = err instanceof Error ? err : new Error(String(err));
  }
  const serverPart = server && { version: server.version ?? '', apiVersion: server.apiVersion ?? '', nodeVersion: server.nodeVersion ?? '', os: server.os ?? '', arch: server.arch ?? '' };
  if (args.format === 'json') print(JSON.stringify({ Client: client, Server: serverPart ?? null }));
  else print(serverPart ? `${part('Client', client)}\n\n${part('Server', serverPart)}` : part('Client', client));
  if (failure !== undefined) throw failure;
}
