// What a node tells the managers about itself.
import { cpus, hostname, totalmem } from 'node:os';
import type { baton } from '../../proto/gen/baton.js';

/** `baton init|join --hostname NAME`: the name this process's node gives itself instead of the OS's. */
let chosenHostname: string | undefined;

export function useHostname(name: string | undefined): void {
  chosenHostname = name;
}

/**
 * `runtimes`: what this node's executors offer (the scheduler places tasks by it);
 * `engineLabels`: its Docker engine's labels (none without an engine).
 */
export function describeHost(runtimes: string[] = ['process'], engineLabels: Record<string, string> = {}): baton.NodeDescription.$Properties {
  return {
    hostname: chosenHostname ?? hostname(),
    platform: `${process.platform}/${process.arch}`,
    resources: { nanoCpus: cpus().length * 1e9, memoryBytes: totalmem() },
    runtimes,
    engineVersion: '',
    engineLabels,
  };
}
