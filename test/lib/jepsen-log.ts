// Parses Jepsen's textual history log (the `jepsen.util` lines of a register test, as in the
// etcd histories of Porcupine and linearizability-checker) into operations for registerModel.
//
// What each completion means, and why it becomes what it does:
// - `:ok`: the operation took effect between its invocation and this line, with this result.
// - `:fail :cas`: etcd answered that the compare failed. That is an observation: at some point
//   between call and return the register did not hold FROM. So it stays a completed operation
//   with output `false` ("did not swap"); dropping it would lose that constraint and could let
//   a non-linearizable history pass.
// - `:fail` of anything else (here only `:fail :read :timed-out`): Jepsen reports `:fail` only
//   when it knows the operation did not take effect. A failed read has no effect and no value,
//   so it constrains nothing (it could be linearized anywhere) and is left out; a failed write
//   likewise never happened.
// - `:info`, or no completion by the end of the log: indeterminate. The operation may have taken
//   effect at any point after its call, or never; it gets `return: Infinity` and an unknown
//   output, and the checker may place it anywhere after its call.
import type { Operation, RegisterInput, RegisterOutput, RegisterValue } from './linearizability.js';

export type RegisterOperation = Operation<RegisterInput, RegisterOutput>;

const EVENT = /^\S+\s+jepsen\.util\s+-\s+(\S+)\s+:(invoke|ok|fail|info)\s+:(read|write|cas)\s+(.*?)\s*$/;

/**
 * Parses a Jepsen log. Time is the line number, so only the order of events counts. Lines that
 * are not client events (other loggers, the nemesis) are skipped; a client event that does not
 * parse, or that contradicts the one-operation-per-process rule, throws with its line number.
 */
export function parseJepsenLog(text: string): RegisterOperation[] {
  const ops: RegisterOperation[] = [];
  const open = new Map<number, { op: RegisterOperation; index: number; f: string }>();
  const dropped = new Set<number>();
  const lines = text.split(/\r?\n/);
  lines.forEach((line, lineIndex) => {
    const where = `line ${lineIndex + 1}`;
    if (!/\bjepsen\.util\s+-\s/.test(line)) return;
    const m = EVENT.exec(line);
    if (m === null) {
      if (/jepsen\.util\s+-\s+:nemesis\s/.test(line)) return;
      throw new SyntaxError(`${where}: not a Jepsen event: ${line}`);
    }
    const [, processText, type, f, valueText] = m as unknown as [string, string, string, string, string];
    if (processText === ':nemesis') return;
    if (!/^\d+$/.test(processText)) throw new SyntaxError(`${where}: bad process ${processText}`);
    const process = Number(processText);
    const time = lineIndex;

    if (type === 'invoke') {
      if (open.has(process)) throw new SyntaxError(`${where}: process ${process} invokes with an operation outstanding`);
      const op: RegisterOperation = {
        clientId: process,
        input: parseInput(f, valueText, where),
        output: undefined,
        call: time,
        return: Infinity,
      };
      open.set(process, { op, index: ops.length, f });
      ops.push(op);
      return;
    }

    const pending = open.get(process);
    if (pending === undefined) throw new SyntaxError(`${where}: process ${process} completes an operation it never invoked`);
    if (pending.f !== f) throw new SyntaxError(`${where}: process ${process} invoked :${pending.f} but completes :${f}`);
    open.delete(process);
    const { op } = pending;
    switch (type) {
      case 'ok':
        op.return = time;
        if (f === 'read') op.output = parseValue(valueText, where);
        else if (f === 'cas') op.output = true;
        else op.output = null;
        break;
      case 'fail':
        if (f === 'cas') {
          op.return = time;
          op.output = false;
        } else {
          dropped.add(pending.index);
        }
        break;
      case 'info':
        // Stays indeterminate: return Infinity, output unknown.
        break;
    }
  });
  return dropped.size === 0 ? ops : ops.filter((_, i) => !dropped.has(i));
}

function parseInput(f: string, valueText: string, where: string): RegisterInput {
  switch (f) {
    case 'read':
      return { op: 'read' };
    case 'write':
      return { op: 'write', value: parseValue(valueText, where) };
    case 'cas': {
      const m = /^\[\s*(\S+)\s+(\S+)\s*\]$/.exec(valueText);
      if (m === null) throw new SyntaxError(`${where}: a cas needs [FROM TO], got ${valueText}`);
      return { op: 'cas', from: parseValue(m[1]!, where), to: parseValue(m[2]!, where) };
    }
    default:
      throw new SyntaxError(`${where}: unknown operation :${f}`);
  }
}

function parseValue(text: string, where: string): RegisterValue {
  if (text === 'nil') return null;
  if (/^-?\d+$/.test(text)) return Number(text);
  throw new SyntaxError(`${where}: expected a number or nil, got ${JSON.stringify(text)}`);
}
