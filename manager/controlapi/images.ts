// CheckImages: CreateService's image check on its own, for every image of a `stack deploy` before
// it creates anything (a network made for a stack whose image does not exist would stay behind).
// Each image is checked on this manager's engine, as CreateService checks; every refusal is in
// the one error, so a file with two bad images needs one run.
import { BatonError } from '../../rpc/errors.js';
import type { ControlHandlers } from './entry.js';
import type { ServiceDeps } from './services.js';

/** The most images one request may name (a stack's services, a few hundred at most). */
export const MAX_CHECKED_IMAGES = 1000;

export function imageHandlers(deps: Pick<ServiceDeps, 'checkImage'>): ControlHandlers<'CheckImages'> {
  return {
    async CheckImages(req) {
      const images = [...new Set((req.images ?? []).filter((i) => i !== ''))];
      if (images.length > MAX_CHECKED_IMAGES) throw new BatonError('INVALID_ARGUMENT', `${images.length} images to check: at most ${MAX_CHECKED_IMAGES} at once`);
      if (!deps.checkImage) return {};
      const check = deps.checkImage;
      const refused = await Promise.all(images.map((image) => check(image).then(() => '', (err: unknown) => (err instanceof Error ? err.message : String(err)))));
      const problems = refused.filter((p) => p !== '');
      if (problems.length > 0) throw new BatonError('INVALID_ARGUMENT', problems.join('; '));
      return {};
    },
  };
}
