// Certificate renewal: a node asks a manager's CA for a new certificate (on a fresh key) when
// half of its current one's remaining life has passed, and when its role changes. The daemon
// is told of each new certificate and puts it to use (onRenewed).
import type * as grpc from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import type { baton } from '../../proto/gen/baton.js';
import { RpcClient } from '../../rpc/client.js';
import { BatonError } from '../../rpc/errors.js';
import { caService } from '../../rpc/services.js';
import { NODE_CHANNEL_OPTIONS, generateNodeKey, type NodeTlsMaterial } from '../../rpc/tls/index.js';
import type { ManagerPeer } from './state.js';

export interface RenewalDeps {
  logger: Logger;
  /** Managers to ask, in order. */
  managers: () => ManagerPeer[];
  credentials: () => grpc.ChannelCredentials;
  /** The certificate in use (its expiry sets when to renew). */
  tls: () => NodeTlsMaterial;
  /** A new certificate and key: save them and use them from now on. */
  onRenewed: (tls: NodeTlsMaterial) => void;
}

export class CertificateRenewal {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly deps: RenewalDeps) {}

  /** A new certificate from the first manager that answers; the next renewal is scheduled. */
  async renew(): Promise<baton.internal.RenewResponse> {
    const key = await generateNodeKey();
    let lastError: unknown;
    for (const m of this.deps.managers()) {
      const client = new RpcClient(m.addr, this.deps.credentials(), caService, NODE_CHANNEL_OPTIONS);
      try {
        const res = (await client.call('Renew', { csrPem: key.csrPem }, 15_000)) as baton.internal.RenewResponse;
        this.deps.onRenewed({ caPem: this.deps.tls().caPem, certPem: res.certPem ?? '', keyPem: key.keyPem });
        this.schedule();
        return res;
      } catch (err) {
        lastError = err;
      } finally {
        client.close();
      }
    }
    throw lastError instanceof Error ? lastError : new BatonError('UNAVAILABLE', 'no manager reachable to renew the certificate');
  }

  /**
   * Renew the node certificate when half of its remaining lifetime has passed (certificates are
   * backdated a minute against clock skew, so notBefore says nothing about when it was issued);
   * retry sooner the closer expiry is if that fails.
   */
  schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.stopped) return;
    const notAfter = Date.parse(new X509Certificate(this.deps.tls().certPem).validTo);
    const delay = Math.min(Math.max((notAfter - Date.now()) / 2, 1_000), 2 ** 31 - 1);
    // A successful renew() schedules the next one itself.
    const attempt = (): void => {
      this.renew().catch((err: unknown) => {
        if (this.stopped) return;
        // Sooner as expiry nears: a minute is too long for a certificate with seconds left.
        const retry = Math.min(60_000, Math.max(1_000, (notAfter - Date.now()) / 4));
        this.deps.logger.warn({ err: err instanceof Error ? err.message : String(err), retryInMs: retry }, 'certificate renewal failed; retrying');
        this.timer = setTimeout(attempt, retry);
        this.timer.unref();
      });
    };
    this.timer = setTimeout(attempt, delay);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
