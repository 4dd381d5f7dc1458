// What a node tells the managers about itself.
import { cpus, hostname, totalmem } from 'node:os';
import type { baton } from '../../proto/gen/baton.js';
import type { NodeState } from './state.js';

/** `baton init|join --hostname NAME`: the name this process's node gives itself instead of the OS's. */
let chosenHostname: string | undefined;

export function useHostname(name: string | undefined): void {
  chosenHostname = name;
}

/**
 * A node's name outlives its process: the name given now goes into node.json (the state
 * returned, to be saved, when it changed), and a start without --hostname takes the one kept
 * there, so a restarted daemon does not rename its node to the OS's hostname.
 */
export function keepHostname(state: NodeState): NodeState {
  if (chosenHostname === undefined) {
    if (state.hostname) chosenHostname = state.hostname;
    return state;
  }
  return state.hostname === chosenHostname ? state : { ...state, hostname: chosenHostname };
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
