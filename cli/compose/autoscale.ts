// Our extension `x-baton-autoscale: {min, max, rps}` on a Compose service: the same bounds as
// `service create --autoscale-min/max/rps` (min defaults to 1; max and rps are required).
import type { baton } from '../../client/index.js';
import { MAX_REPLICAS } from '../../spec/index.js';
import type { Node } from './reader.js';

export const AUTOSCALE_KEY = 'x-baton-autoscale';

/** The autoscale spec of a service, or undefined when the key is absent. */
export function readAutoscale(service: Node): baton.IAutoscale | undefined {
  const n = service.child(AUTOSCALE_KEY);
  if (!n.present) return undefined;
  if (!n.isMap()) n.fail(`must be a mapping of min, max and rps${n.got()}`);
  n.checkKeys(['min', 'max', 'rps']);
  if (!n.child('max').present) n.fail('needs max (the most replicas)');
  if (!n.child('rps').present) n.fail('needs rps (new connections per second per task)');
  const min = n.child('min').present ? n.child('min').int(1, MAX_REPLICAS, 'replicas per service') : 1;
  const max = n.child('max').int(1, MAX_REPLICAS, 'replicas per service');
  const targetRps = n.child('rps').number(Number.MIN_VALUE, Number.MAX_VALUE);
  return { min, max, targetRps };
}
