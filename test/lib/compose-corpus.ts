// The compose corpus (test/fixtures/compose-corpus and test/fixtures/volumes: real files from
// public repositories, each naming its source), and how the tests load them.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadStack, type StackDefinition } from '../../cli/compose/project.js';

export const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures');
export const CORPUS = join(FIXTURES, 'compose-corpus');

/** What the dockerswarm.rocks files need from the environment. */
export const CORPUS_ENV = { DOMAIN: 'example.test', USERNAME: 'admin', HASHED_PASSWORD: 'hash', EMAIL: 'admin@example.test' };

/** The files Swarm deploys (the external network traefik-public must exist for two of them). */
export const DEPLOYABLE = [
  join(CORPUS, 'atsea-docker-stack.yml'),
  join(CORPUS, 'vegasbrianc-prometheus-docker-stack.yml'),
  join(CORPUS, 'portainer-docker-stack.yml'),
  join(CORPUS, 'docker-elk-docker-stack.yml'),
  join(CORPUS, 'dockerswarm-rocks-traefik-host.yml'),
  join(CORPUS, 'dockerswarm-rocks-swarmpit.yml'),
  join(FIXTURES, 'volumes', 'voting-app-stack.yml'),
  join(FIXTURES, 'volumes', 'wordpress-mysql.yaml'),
];

/** The files Swarm refuses, and what our one-line refusal says. */
export const REFUSED: [string, RegExp][] = [
  [join(CORPUS, 'awesome-compose-elk.yaml'), /awesome-compose-elk\.yaml: networks\.elastic\.driver is bridge: the network c_elastic cannot be used with services\. Only networks scoped to the swarm can be used/],
  [join(FIXTURES, 'volumes', 'prometheus-grafana.yaml'), /prometheus-grafana\.yaml: services\.prometheus/],
];

export function loadCorpus(path: string): { def: StackDefinition; warnings: string[] } {
  const warnings: string[] = [];
  return { def: loadStack([path], 'c', CORPUS_ENV, (l) => warnings.push(l)), warnings };
}
