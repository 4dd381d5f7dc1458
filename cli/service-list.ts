// `service ls` as Docker: ID NAME MODE REPLICAS IMAGE PORTS, --filter id|name|label|mode, --format.
import { baton } from '../client/index.js';
import { imageText, portsText } from '../spec/index.js';
import { jobColumns } from './job-view.js';
import { maxPerNodeSuffix } from './placement-flags.js';
import { labelMatches, oneOf, parseFilters, prefixMatches, type FilterKeys, type ParsedFilters } from './filters.js';
import type { ListView } from './list-format.js';

type Service = baton.Service.$Properties;
type Task = baton.Task.$Properties;

export const SERVICE_HEADERS: Record<string, string> = { ID: 'ID', Name: 'NAME', Mode: 'MODE', Replicas: 'REPLICAS', Image: 'IMAGE', Ports: 'PORTS' };

/** One `service ls` row by Docker's field names: replicas running/desired. */
export function serviceRow(s: Service, tasks: readonly Task[]): Record<string, string> {
  const wanted = tasks.filter((t) => t.serviceId === s.meta?.id && t.desiredState === baton.TaskState.TASK_RUNNING);
  const running = wanted.filter((t) => t.status?.state === baton.TaskState.TASK_RUNNING).length;
  const desired = s.spec?.global ? wanted.length : Number(s.spec?.replicas ?? 0);
  const job = jobColumns(s, tasks);
  return {
    ID: s.meta?.id ?? '',
    Name: s.spec?.annotations?.name ?? '',
    Mode: job?.mode ?? (s.spec?.global ? 'global' : 'replicated'),
    Replicas: job?.replicas ?? `${running}/${desired}${maxPerNodeSuffix(s.spec?.task?.placement)}`,
    Image: imageText(s.spec?.task),
    Ports: portsText(s.endpoint?.ports),
  };
}

/** `service ls`/`stack services` rows: Docker's fields, ID Image Mode Name Ports Replicas. */
export function serviceView(tasks: readonly Task[]): ListView<Service> {
  return { id: (s) => s.meta?.id ?? '', headers: SERVICE_HEADERS, columns: Object.keys(SERVICE_HEADERS), row: (s) => serviceRow(s, tasks) };
}

function modeOf(s: Service): string {
  if (s.spec?.replicatedJob) return 'replicated-job';
  if (s.spec?.globalJob) return 'global-job';
  return s.spec?.global ? 'global' : 'replicated';
}

const SERVICE_FILTERS: FilterKeys<Service> = {
  id: (s, v) => prefixMatches(s.meta?.id, v),
  name: (s, v) => prefixMatches(s.spec?.annotations?.name, v),
  label: (s, v) => labelMatches(s.spec?.annotations?.labels, v),
  mode: (s, v) => modeOf(s) === v,
};

export function parseServiceFilters(words: readonly string[]): ParsedFilters {
  return parseFilters(words, Object.keys(SERVICE_FILTERS), { mode: oneOf('mode', ['replicated', 'global', 'replicated-job', 'global-job']) });
}

/** The services the filters keep, by name as Docker lists them. */
export function filterServices(services: Service[], filters: ParsedFilters): Service[] {
  const name = (s: Service): string => s.spec?.annotations?.name ?? '';
  return filters.apply(services, SERVICE_FILTERS).sort((a, b) => name(a).localeCompare(name(b)));
}
