// Several manager addresses as one gRPC target: grpc-js' static resolver (`ipv4:a:p,b:p`) with
// its default pick_first policy connects to the first that answers and moves on to the next
// when it goes away. Names are not resolved here: give IP addresses (localhost is 127.0.0.1).
import { BatonError } from '../rpc/errors.js';

/** `tcp://h:p`, `h:p` or a comma-separated list of them, as one grpc-js target. */
export function tcpTarget(hosts: string | readonly string[]): string {
  const list = (typeof hosts === 'string' ? hosts.split(',') : hosts).map((h) => h.trim().replace(/^tcp:\/\//, '')).filter((h) => h !== '');
  if (list.length === 0) throw new BatonError('INVALID_ARGUMENT', 'no manager address given');
  if (list.length === 1) return list[0]!;
  const bad = list.filter((h) => !IPV4_PORT.test(h.replace(/^localhost:/, '127.0.0.1:')));
  if (bad.length > 0) {
    throw new BatonError('INVALID_ARGUMENT', `several manager addresses must each be an IPv4 address and port (ip:port): ${bad.map((b) => `"${b}"`).join(', ')}`);
  }
  return `ipv4:${list.map((h) => h.replace(/^localhost:/, '127.0.0.1:')).join(',')}`;
}

const IPV4_PORT = /^\d{1,3}(\.\d{1,3}){3}:\d{1,5}$/;
