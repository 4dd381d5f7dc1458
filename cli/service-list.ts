// `service ls` as Docker: ID NAME MODE REPLICAS IMAGE PORTS, --filter id|name|label|mode, --format.
import { baton } from '../client/index.js';
import { imageText, portsText, type ServiceTaskCounts } from '../spec/index.js';
import { countsFromTasks, jobColumns } from './job-view.js';
import { maxPerNodeSuffix } from './placement-flags.js';
import { labelMatches, oneOf, parseFilters, prefixMatches, type FilterKeys, type ParsedFilters } from './filters.js';
import type { ListView } from './list-format.js';

type Service = baton.Service.$Properties;
type Task = baton.Task.$Properties;

export const SERVICE_HEADERS: Record<string, string> = { ID: 'ID', Name: 'NAME', Mode: 'MODE', Replicas: 'REPLICAS', Image: 'IMAGE', Ports: 'PORTS' };

/** One `service ls` row by Docker's field names: replicas running/desired. */
export function serviceRow(s: Service, counts: ServiceTaskCounts): Record<string, string> {
  const job = jobColumns(s, counts);
  return {
    ID: s.meta?.id ?? '',
    Name: s.spec?.annotations?.name ?? '',
    Mode: job?.mode ?? (s.spec?.global ? 'global' : 'replicated'),
    Replicas: job?.replicas ?? `${counts.running}/${counts.desired}${maxPerNodeSuffix(s.spec?.task?.placement)}`,
    Image: imageText(s.spec?.task),
    Ports: portsText(s.endpoint?.ports),
  };
}

/** True when the server sent every service's counts (ListServices with status): no task list needed. */
export function counted(services: readonly Service[]): boolean {
  return services.every((s) => s.serviceStatus);
}

/**
 * `service ls`/`stack services` rows: Docker's fields, ID Image Mode Name Ports Replicas. The
 * counts are the server's (serviceStatus), else counted from `tasks` (a server without them).
 */
export function serviceView(tasks: readonly Task[]): ListView<Service> {
  const countsOf = (s: Service): ServiceTaskCounts => {
    const st = s.serviceStatus;
    if (!st) return countsFromTasks(s, tasks);
    return { running: Number(st.runningTasks ?? 0), desired: Number(st.desiredTasks ?? 0), completed: Number(st.completedTasks ?? 0) };
  };
  return { id: (s) => s.meta?.id ?? '', headers: SERVICE_HEADERS, columns: Object.keys(SERVICE_HEADERS), row: (s) => serviceRow(s, countsOf(s)) };
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
