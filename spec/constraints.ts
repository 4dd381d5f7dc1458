// The grammar of a placement constraint, as in Swarm: node.id, node.hostname, node.role
// (manager|worker) and node.labels.<key>, each with == or !=. Checked here when a spec comes
// in; the scheduler (manager/scheduler/constraints.ts) evaluates them against nodes.
import { ok, problem, type Parsed } from './parsed.js';

export interface Constraint {
  field: 'id' | 'hostname' | 'role' | 'label';
  /** The label key (field 'label' only). */
  key: string;
  op: '==' | '!=';
  value: string;
  /** As written, normalised: `node.labels.zone==a`. */
  text: string;
}

const FORM = /^node\.(id|hostname|role|labels\.([^=!\s]+))\s*(==|!=)\s*(\S+)$/;

export function parseConstraintText(input: string): Parsed<Constraint> {
  const m = FORM.exec(input.trim());
  if (m === null) {
    return problem(`invalid constraint "${input}" (want node.id|node.hostname|node.role|node.labels.KEY ==|!= VALUE)`);
  }
  const [, what = '', key = '', op = '==', value = ''] = m;
  const field = what.startsWith('labels.') ? 'label' : (what as Constraint['field']);
  if (field === 'role' && !/^(manager|worker)$/i.test(value)) {
    return problem(`invalid constraint "${input}": node.role is manager or worker`);
  }
  const lhs = field === 'label' ? `node.labels.${key}` : `node.${field}`;
  return ok({ field, key, op: op as Constraint['op'], value, text: `${lhs}${op}${value}` });
}
