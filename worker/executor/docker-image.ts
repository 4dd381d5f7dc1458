// Making sure a task's image is on the engine: present already (the usual case on nodes
// without registry access, like our CI), or pulled once. The pull is bounded: an engine
// whose registry is unreachable can sit in DNS or TCP timeouts for minutes, and a task must
// fail with a clear reason instead of hanging in "preparing".
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { engineMessage, httpStatus, rethrow } from './docker-errors.js';
import { ExecutorError, errorMessage } from './types.js';

async function present(docker: Docker, image: string): Promise<boolean> {
  try {
    await docker.getImage(image).inspect();
    return true;
  } catch (err) {
    if (httpStatus(err) === 404) return false;
    return rethrow(err, `inspect image ${image}`);
  }
}

/** Reads a pull's progress stream to its end; the engine reports failure inside it, not by status. */
async function drain(stream: NodeJS.ReadableStream): Promise<void> {
  let buf = '';
  for await (const piece of stream) {
    buf += typeof piece === 'string' ? piece : Buffer.from(piece).toString('utf8');
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line === '') continue;
      const msg = JSON.parse(line) as { error?: string };
      if (msg.error !== undefined) throw new Error(msg.error);
    }
  }
}

async function pull(docker: Docker, image: string, timeoutMs: number): Promise<void> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error(`no pull within ${timeoutMs} ms`)), timeoutMs);
  try {
    const stream = await docker.pull(image, { abortSignal: abort.signal });
    await drain(stream);
  } catch (err) {
    throw new Error(abort.signal.aborted ? `no pull within ${timeoutMs} ms` : engineMessage(err), { cause: err });
  } finally {
    clearTimeout(timer);
  }
}

export async function ensureImage(docker: Docker, image: string, pullTimeoutMs: number, logger: Logger): Promise<void> {
  if (await present(docker, image)) return;
  logger.info({ image }, 'image not present, pulling');
  let why = 'the pull finished but the image is still missing';
  try {
    await pull(docker, image, pullTimeoutMs);
  } catch (err) {
    if (err instanceof ExecutorError) throw err;
    why = errorMessage(err);
  }
  if (await present(docker, image)) return;
  throw new ExecutorError('IMAGE_NOT_FOUND', `image "${image}" not found on the engine and could not be pulled: ${why}`);
}

/**
 * What `docker service create` does before it creates anything: the image must be on this
 * engine or known to its registry (a manifest lookup, no pull). Bounded like the pull.
 */
export async function checkImageExists(docker: Docker, image: string, timeoutMs: number): Promise<void> {
  if (await present(docker, image)) return;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from its registry within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([docker.getImage(image).distribution(), timeout]);
  } catch (err) {
    throw new ExecutorError('IMAGE_NOT_FOUND', `image "${image}" is neither on this manager's engine nor in its registry (${errorMessage(err)}); pass --no-resolve-image (stack deploy: --resolve-image never) to create the service anyway`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}
