// `stack deploy`: read the cluster, check everything, then write: networks, secrets and configs
// first (the services refer to them by id), then services created or updated (a rolling update
// on the cluster's side), unchanged ones left alone, and ones no longer in the file removed with
// --prune. Networks that exist are kept as they are; only missing ones are created.
import { BatonError, type BatonClient, type baton } from '../../client/index.js';
import type { StackDefinition } from './project.js';
import { deployedSpec, planServices } from './diff.js';
import { NAMESPACE_LABEL } from './service.js';
import { planObjects, type ObjectStore } from './sync-objects.js';
import { planNetworks } from './networks.js';

/** `--resolve-image`: Docker's; never = the manager skips the image check. */
export type ResolveImage = 'always' | 'changed' | 'never';

export interface DeployOptions {
  prune: boolean;
  resolveImage?: ResolveImage;
  /** Called, after every write, for each service created or updated (to wait until it converges). */
  changed?: (service: baton.Service.$Properties, how: 'created' | 'updated') => Promise<void>;
}

export interface Output {
  line(text: string): void;
  warn(text: string): void;
}

/** A stack's services; with `status`, each with its task counts (ListServices status, for REPLICAS). */
export async function stackServices(client: BatonClient, stack: string, status = false): Promise<baton.Service.$Properties[]> {
  return await client.list('ListServices', { labels: [`${NAMESPACE_LABEL}=${stack}`] }, undefined, { status });
}

export async function deployStack(client: BatonClient, objects: ObjectStore, def: StackDefinition, opts: DeployOptions, out: Output): Promise<void> {
  const all = await client.list('ListServices');
  const mine = all.filter((s) => s.spec?.annotations?.labels?.[NAMESPACE_LABEL] === def.name);

  // Every check before the first write.
  const secretPlan = planObjects(def.name, def.secrets, await objects.list('secret'), all);
  const configPlan = planObjects(def.name, def.configs, await objects.list('config'), all);
  const stored = (await client.listNetworks()).map((n) => ({ id: n.meta?.id ?? '', name: n.spec?.annotations?.name ?? '', labels: { ...(n.spec?.annotations?.labels ?? {}) } }));
  const networkPlan = planNetworks(def.name, def.networks, stored, NAMESPACE_LABEL);
  for (const spec of def.services) {
    const name = spec.annotations?.name ?? '';
    const other = all.find((s) => s.spec?.annotations?.name === name && s.spec?.annotations?.labels?.[NAMESPACE_LABEL] !== def.name);
    if (other) throw new BatonError('ALREADY_EXISTS', `a service named ${name} already exists and is not part of stack ${def.name}`);
  }
  const resolve = opts.resolveImage ?? 'always';
  // The images too, all at once, before a network or an object is made for nothing.
  const images = imagesToCheck(def.services, mine, resolve);
  if (images.length > 0) await client.control.call('CheckImages', { images });

  // What the cluster refuses only when asked (a port taken meanwhile, a bad constraint): the
  // objects this run created are removed again, so a failed deploy leaves no half-made stack.
  // Each one undone is said, as the creation was.
  const created: { what: string; undo: () => Promise<unknown> }[] = [];
  try {
    for (const { decl, spec } of networkPlan.create) {
      out.line(`Creating network ${decl.name}`);
      const network = await client.createNetwork(spec);
      const id = network.meta?.id ?? '';
      networkPlan.ids.set(decl.name, id);
      created.push({ what: `network ${decl.name}`, undo: () => client.removeNetwork(id) });
    }
    for (const [kind, plan] of [['secret', secretPlan], ['config', configPlan]] as const) {
      for (const old of plan.replace) {
        out.line(`Replacing ${kind} ${old.name} (its file changed)`);
        await objects.remove(kind, old.id);
      }
      for (const c of plan.create) {
        out.line(`Creating ${kind} ${c.decl.name}`);
        const id = await objects.create(kind, c.decl.name, c.data, c.labels);
        plan.ids.set(c.decl.name, id);
        created.push({ what: `${kind} ${c.decl.name}`, undo: () => objects.remove(kind, id) });
      }
    }
    const specs = def.services.map((s) => withObjectIds(s, secretPlan.ids, configPlan.ids, networkPlan.ids));
    const plan = planServices(mine, specs);
    const changed: [baton.Service.$Properties, 'created' | 'updated'][] = [];
    for (const spec of plan.create) {
      out.line(`Creating service ${spec.annotations?.name ?? ''}`);
      // Checked above with the others.
      const svc = await client.control.call('CreateService', { spec, noResolveImage: true });
      created.push({ what: `service ${spec.annotations?.name ?? ''}`, undo: () => client.control.call('RemoveService', { id: svc.meta?.id ?? '' }) });
      changed.push([svc, 'created']);
    }
    for (const { service, spec } of plan.update) {
      out.line(`Updating service ${spec.annotations?.name ?? ''}`);
      // Written over the newest version if the service moved since it was listed (its autoscaler,
      // an update's progress): the file's spec is what a deploy sets (deploy.replicas back too),
      // with what a file cannot say taken from the newest. Images were checked above.
      const svc = await client.modifyService(service.meta?.id ?? '', (newest) => deployedSpec(spec, newest), 5, { noResolveImage: true });
      changed.push([svc, 'updated']);
    }
    created.length = 0;
    for (const svc of plan.unchanged) out.line(`Service ${svc.spec?.annotations?.name ?? ''} is up to date`);
    for (const svc of plan.orphaned) {
      const name = svc.spec?.annotations?.name ?? '';
      if (opts.prune) {
        out.line(`Removing service ${name}`);
        await client.control.call('RemoveService', { id: svc.meta?.id ?? '' });
      } else {
        out.warn(`Service ${name} is no longer in the compose file and is kept (stack deploy --prune removes it)`);
      }
    }
    for (const [svc, how] of changed) await opts.changed?.(svc, how);
  } catch (err) {
    // Services first (they hold the objects and networks), newest first.
    for (const { what, undo } of created.reverse()) {
      out.line(`Removing ${what} (the deploy failed)`);
      await undo().catch((e: unknown) => out.warn(`could not remove ${what}: ${e instanceof Error ? e.message : String(e)}`));
    }
    throw err;
  }
}

/**
 * The images `deploy` checks before it writes: none with `never`; a new service's, and one whose
 * file names another image than the service has (the manager never checks an unchanged image
 * again: a scale must not fail over an image let in unchecked). Process-runtime services have none.
 */
export function imagesToCheck(services: readonly baton.ServiceSpec.$Properties[], existing: readonly baton.Service.$Properties[], resolve: ResolveImage): string[] {
  if (resolve === 'never') return [];
  const images = new Set<string>();
  for (const spec of services) {
    const image = spec.task?.container?.image ?? '';
    if (!image || (spec.task?.runtime || 'docker') !== 'docker') continue;
    const current = existing.find((s) => s.spec?.annotations?.name === spec.annotations?.name);
    if (current && (current.spec?.task?.container?.image ?? '') === image) continue;
    images.add(image);
  }
  return [...images];
}

function withObjectIds(
  spec: baton.ServiceSpec.$Properties,
  secrets: ReadonlyMap<string, string>,
  configs: ReadonlyMap<string, string>,
  networks: ReadonlyMap<string, string>,
): baton.ServiceSpec.$Properties {
  const c = spec.task?.container ?? {};
  return {
    ...spec,
    task: {
      ...spec.task,
      // By id, as the managers store them: a re-deploy then compares equal specs as equal.
      networks: (spec.task?.networks ?? []).map((n) => ({ ...n, target: networks.get(n.target ?? '') ?? n.target ?? '' })),
      container: {
        ...c,
        secrets: (c.secrets ?? []).map((r) => ({ ...r, secretId: secrets.get(r.secretName ?? '') ?? '' })),
        configs: (c.configs ?? []).map((r) => ({ ...r, configId: configs.get(r.configName ?? '') ?? '' })),
      },
    },
  };
}
