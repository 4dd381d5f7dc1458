// The refusals unit tests expect of baton's parts: a BatonError with its code and one line.
import assert from 'node:assert/strict';
import { BatonError } from '../../rpc/errors.js';

/** The message of the one-line INVALID_ARGUMENT that `run` throws (a flag or spec refused). */
export function refusalOf(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof BatonError, `a BatonError, not ${String(err)}`);
    assert.equal(err.code, 'INVALID_ARGUMENT');
    assert.ok(!err.message.includes('\n'), 'one line');
    return err.message;
  }
  assert.fail('expected a refusal');
}

/** `p` rejects with a BatonError of `code` whose message matches `message` (a call refused). */
export async function rejectsWith(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof BatonError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, message);
    return true;
  });
}
