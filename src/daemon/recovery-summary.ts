// One line of what a recovered store holds, for the operator to compare with what they expect.
import type { ClusterStore } from '../../manager/store/index.js';

export function storeSummary(store: ClusterStore): string {
  const count = (kind: 'service' | 'secret' | 'config' | 'network' | 'node' | 'task', word: string): string => {
    const n = store.list(kind).length;
    return `${n} ${word}${n === 1 ? '' : 's'}`;
  };
  return [count('service', 'service'), count('secret', 'secret'), count('config', 'config'), count('network', 'network'), count('node', 'node'), count('task', 'task')].join(', ');
}
