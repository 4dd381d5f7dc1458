// Real compose files from public repositories (test/fixtures/compose-corpus, and the ones with
// volumes in test/fixtures/volumes; each names its source at the top), loaded as `stack deploy`
// loads them: each service's spec is compared with what its file says (image, command and
// entrypoint, environment, ports, mounts, networks, deploy.*, user), and the files Swarm refuses
// are refused in one line.
import test from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { baton } from '../../client/index.js';
import { CORPUS, FIXTURES, REFUSED, loadCorpus } from '../lib/compose-corpus.js';

const ROOT = FIXTURES;
const NS = 'com.docker.stack.namespace';

/** The fields of a spec that matter here, in a short form that is easy to write down. */
interface Summary {
  image: string;
  entrypoint?: string[];
  command?: string[];
  env?: string[];
  /** published:target/protocol, " host" for host mode */
  ports?: string[];
  /** "volume SOURCE:TARGET", "bind SOURCE:TARGET", ":ro" when read-only */
  mounts?: string[];
  networks: string[];
  mode?: 'replicated' | 'global';
  replicas?: number;
  constraints?: string[];
  preferences?: string[];
  labels?: Record<string, string>;
  /** cpus/memory limit and reservation, as "0.5 cpu 1024M" */
  limits?: string;
  reservations?: string;
  restart?: 'any' | 'on-failure' | 'none';
  maxAttempts?: number;
  user?: string;
  secrets?: string[];
  configs?: string[];
  stopGraceMs?: number;
}

function summary(spec: baton.ServiceSpec.$Properties, dir: string): Summary {
  const c = spec.task?.container ?? {};
  const rel = (p: string): string => (dir && p.startsWith(`${dir}/`) ? `.${p.slice(dir.length)}` : p);
  const res = (r: baton.Resources.$Properties | null | undefined): string | undefined =>
    r && (Number(r.nanoCpus) || Number(r.memoryBytes)) ? `${Number(r.nanoCpus) / 1e9} cpu ${Number(r.memoryBytes) / 2 ** 20}M` : undefined;
  const out: Summary = {
    image: c.image ?? '',
    networks: (spec.task?.networks ?? []).map((n) => n.target ?? ''),
    mode: spec.global ? 'global' : 'replicated',
    restart: (['any', 'on-failure', 'none'] as const)[spec.task?.restart?.condition ?? 0],
  };
  if (!spec.global) out.replicas = Number(spec.replicas);
  if (c.command?.length) out.entrypoint = c.command;
  if (c.args?.length) out.command = c.args;
  if (c.env?.length) out.env = [...c.env].sort();
  const ports = (spec.endpoint?.ports ?? []).map((p) => `${p.publishedPort ?? 0}:${p.targetPort}/${p.protocol === baton.PortProtocol.UDP ? 'udp' : 'tcp'}${p.publishMode === baton.PublishMode.HOST ? ' host' : ''}`);
  if (ports.length) out.ports = ports;
  const mounts = (c.mounts ?? []).map((m) => `${m.type === baton.MountType.MOUNT_BIND ? 'bind' : 'volume'} ${rel(m.source ?? '')}:${m.target}${m.readOnly ? ':ro' : ''}`);
  if (mounts.length) out.mounts = mounts;
  if (spec.task?.placement?.constraints?.length) out.constraints = spec.task.placement.constraints;
  if (spec.task?.placement?.preferences?.length) out.preferences = spec.task.placement.preferences.map((p) => p.spread ?? '');
  const labels = { ...(spec.annotations?.labels ?? {}) };
  delete labels[NS];
  if (Object.keys(labels).length) out.labels = labels;
  const limits = res(spec.task?.resources?.limits);
  const reservations = res(spec.task?.resources?.reservations);
  if (limits) out.limits = limits;
  if (reservations) out.reservations = reservations;
  if (Number(spec.task?.restart?.maxAttempts)) out.maxAttempts = Number(spec.task?.restart?.maxAttempts);
  if (c.user) out.user = c.user;
  if (c.secrets?.length) out.secrets = c.secrets.map((s) => `${s.secretName}:${s.target}`);
  if (c.configs?.length) out.configs = c.configs.map((s) => `${s.configName}:${s.target}`);
  if (Number(c.stopGraceMs)) out.stopGraceMs = Number(c.stopGraceMs);
  return out;
}

function check(path: string, want: Record<string, Summary>): string[] {
  const { def, warnings } = loadCorpus(path);
  const got = Object.fromEntries(def.services.map((s) => [s.annotations?.name ?? '', summary(s, dirname(path))]));
  assert.deepEqual(Object.keys(got).sort(), Object.keys(want).map((k) => `c_${k}`).sort());
  for (const [key, w] of Object.entries(want)) assert.deepEqual(got[`c_${key}`], w, key);
  return warnings;
}

const traefikLabels = (rule: string, port: string): Record<string, string> => ({
  'traefik.frontend.rule': rule,
  'traefik.enable': 'true',
  'traefik.port': port,
  'traefik.tags': 'traefik-public',
  'traefik.docker.network': 'traefik-public',
  'traefik.redirectorservice.frontend.entryPoints': 'http',
  'traefik.redirectorservice.frontend.redirect.entryPoint': 'https',
  'traefik.webservice.frontend.entryPoints': 'https',
});

test('corpus dockersamples/atsea-sample-shop-app docker-stack.yml', () => {
  check(join(CORPUS, 'atsea-docker-stack.yml'), {
    database: {
      image: 'atsea_db',
      env: ['POSTGRES_DB=atsea', 'POSTGRES_DB_PASSWORD_FILE=/run/secrets/postgres_password', 'POSTGRES_USER=gordonuser'],
      networks: ['c_back-tier'],
      mode: 'replicated',
      replicas: 1,
      restart: 'any',
      secrets: ['c_postgres_password:postgres_password'],
    },
    appserver: {
      image: 'atsea_app',
      ports: ['8080:8080/tcp'],
      networks: ['c_back-tier', 'c_front-tier'],
      mode: 'replicated',
      replicas: 2,
      restart: 'on-failure',
      maxAttempts: 3,
      secrets: ['c_postgres_password:postgres_password'],
    },
    visualizer: {
      image: 'dockersamples/visualizer:stable',
      ports: ['8001:8080/tcp'],
      mounts: ['bind /var/run/docker.sock:/var/run/docker.sock'],
      networks: ['c_default'],
      mode: 'replicated',
      replicas: 1,
      constraints: ['node.role == manager'],
      restart: 'any',
      stopGraceMs: 90_000,
    },
  });
});

test('corpus vegasbrianc/prometheus docker-stack.yml: restart: always is ignored with Docker\'s warning, env_file read', () => {
  const monitor = ['c_monitor-net'];
  const warnings = check(join(CORPUS, 'vegasbrianc-prometheus-docker-stack.yml'), {
    prometheus: {
      image: 'prom/prometheus',
      command: ['--config.file=/etc/prometheus/prometheus.yml', '--storage.tsdb.path=/prometheus', '--web.console.libraries=/usr/share/prometheus/console_libraries', '--web.console.templates=/usr/share/prometheus/consoles'],
      ports: ['9090:9090/tcp'],
      mounts: ['bind ./prometheus:/etc/prometheus', 'volume c_prometheus_data:/prometheus'],
      networks: monitor,
      mode: 'replicated',
      replicas: 1,
      constraints: ['node.role==manager'],
      restart: 'any',
    },
    'node-exporter': {
      image: 'prom/node-exporter',
      command: [
        '--path.procfs=/host/proc',
        '--path.sysfs=/host/sys',
        '--collector.filesystem.ignored-mount-points',
        '^/(sys|proc|dev|host|etc|rootfs/var/lib/docker/containers|rootfs/var/lib/docker/overlay2|rootfs/run/docker/netns|rootfs/var/lib/docker/aufs)($|/)',
      ],
      ports: ['9100:9100/tcp'],
      mounts: ['bind /proc:/host/proc:ro', 'bind /sys:/host/sys:ro', 'bind /:/rootfs:ro'],
      networks: monitor,
      mode: 'global',
      restart: 'any',
    },
    alertmanager: {
      image: 'prom/alertmanager',
      command: ['--config.file=/etc/alertmanager/config.yml', '--storage.path=/alertmanager'],
      ports: ['9093:9093/tcp'],
      mounts: ['bind ./alertmanager:/etc/alertmanager'],
      networks: monitor,
      mode: 'replicated',
      replicas: 1,
      constraints: ['node.role==manager'],
      restart: 'any',
    },
    cadvisor: {
      image: 'google/cadvisor',
      ports: ['8080:8080/tcp'],
      mounts: ['bind /:/rootfs:ro', 'bind /var/run:/var/run', 'bind /sys:/sys:ro', 'bind /var/lib/docker/:/var/lib/docker:ro'],
      networks: monitor,
      mode: 'global',
      restart: 'any',
    },
    grafana: {
      image: 'grafana/grafana',
      env: ['GF_SECURITY_ADMIN_PASSWORD=foobar', 'GF_USERS_ALLOW_SIGN_UP=false'],
      ports: ['3000:3000/tcp'],
      mounts: ['volume c_grafana_data:/var/lib/grafana', 'bind ./grafana/provisioning:/etc/grafana/provisioning'],
      networks: monitor,
      mode: 'replicated',
      replicas: 1,
      restart: 'any',
    },
  });
  assert.equal(warnings[0], 'Ignoring unsupported options: restart');
});

test('corpus portainer/portainer-compose docker-stack.yml: a port with no published port', () => {
  check(join(CORPUS, 'portainer-docker-stack.yml'), {
    portainer: {
      image: 'portainer/portainer:latest',
      ports: ['0:9000/tcp'],
      mounts: ['bind /var/run/docker.sock:/var/run/docker.sock'],
      networks: ['c_portainer-net'],
      mode: 'replicated',
      replicas: 1,
      constraints: ['node.role == manager'],
      restart: 'any',
    },
  });
});

test('corpus deviantony/docker-elk docker-stack.yml: configs at their targets, user root', () => {
  const elk = ['c_elk'];
  check(join(CORPUS, 'docker-elk-docker-stack.yml'), {
    elasticsearch: {
      image: 'docker.elastic.co/elasticsearch/elasticsearch:6.5.4',
      env: ['ES_JAVA_OPTS=-Xmx256m -Xms256m'],
      ports: ['9200:9200/tcp', '9300:9300/tcp'],
      networks: elk,
      mode: 'replicated',
      replicas: 1,
      restart: 'any',
      configs: ['c_elastic_config:/usr/share/elasticsearch/config/elasticsearch.yml'],
    },
    logstash: {
      image: 'docker.elastic.co/logstash/logstash:6.5.4',
      env: ['LS_JAVA_OPTS=-Xmx256m -Xms256m'],
      ports: ['5000:5000/tcp', '9600:9600/tcp'],
      networks: elk,
      mode: 'replicated',
      replicas: 1,
      restart: 'any',
      configs: ['c_logstash_config:/usr/share/logstash/config/logstash.yml', 'c_logstash_pipeline:/usr/share/logstash/pipeline/logstash.conf'],
    },
    kibana: {
      image: 'docker.elastic.co/kibana/kibana:6.5.4',
      ports: ['5601:5601/tcp'],
      networks: elk,
      mode: 'replicated',
      replicas: 1,
      restart: 'any',
      configs: ['c_kibana_config:/usr/share/kibana/config/kibana.yml'],
    },
    metricbeat: {
      image: 'docker.elastic.co/beats/metricbeat:6.5.4',
      networks: elk,
      mode: 'replicated',
      replicas: 1,
      restart: 'any',
      user: 'root',
      configs: ['c_mb_config:/usr/share/metricbeat/metricbeat.yml'],
    },
  });
});

test('corpus tiangolo/dockerswarm.rocks traefik-host.yml: spread preferences, host-mode ports, an external network, variables', () => {
  const nets = ['c_default', 'traefik-public'];
  const consulEnv = ['CONSUL_BIND_INTERFACE=eth0', 'CONSUL_LOCAL_CONFIG={"leave_on_terminate": true}'];
  check(join(CORPUS, 'dockerswarm-rocks-traefik-host.yml'), {
    'consul-leader': {
      image: 'consul',
      command: ['agent', '-server', '-client=0.0.0.0', '-bootstrap', '-ui'],
      env: consulEnv,
      mounts: ['volume c_consul-data-leader:/consul/data'],
      networks: nets,
      mode: 'replicated',
      replicas: 1,
      labels: { ...traefikLabels('Host:consul.example.test', '8500'), 'traefik.frontend.auth.basic.users': 'admin:hash' },
      restart: 'any',
    },
    'consul-replica': {
      image: 'consul',
      command: ['agent', '-server', '-client=0.0.0.0', '-retry-join=consul-leader'],
      env: consulEnv,
      mounts: ['volume c_consul-data-replica:/consul/data'],
      networks: nets,
      mode: 'replicated',
      replicas: 3,
      preferences: ['node.id'],
      restart: 'any',
    },
    traefik: {
      image: 'traefik:v1.7',
      command: [
        '--docker', '--docker.swarmmode', '--docker.watch', '--docker.exposedbydefault=false', '--constraints=tag==traefik-public',
        '--entrypoints=Name:http Address::80', '--entrypoints=Name:https Address::443 TLS', '--consul', '--consul.endpoint=consul-leader:8500',
        '--acme', '--acme.email=admin@example.test', '--acme.storage=traefik/acme/account', '--acme.entryPoint=https',
        '--acme.httpChallenge.entryPoint=http', '--acme.onhostrule=true', '--acme.acmelogging=true', '--logLevel=INFO', '--accessLog', '--api',
      ],
      ports: ['80:80/tcp host', '443:443/tcp host'],
      mounts: ['bind /var/run/docker.sock:/var/run/docker.sock'],
      networks: nets,
      mode: 'replicated',
      replicas: 3,
      constraints: ['node.role == manager'],
      preferences: ['node.id'],
      labels: { ...traefikLabels('Host:traefik.example.test', '8080'), 'traefik.frontend.auth.basic.users': 'admin:hash' },
      restart: 'any',
    },
  });
});

test('corpus tiangolo/dockerswarm.rocks swarmpit.yml: resources, a global agent, node label constraints', () => {
  check(join(CORPUS, 'dockerswarm-rocks-swarmpit.yml'), {
    app: {
      image: 'swarmpit/swarmpit:latest',
      env: ['SWARMPIT_DB=http://db:5984'],
      ports: ['888:8080/tcp'],
      mounts: ['bind /var/run/docker.sock:/var/run/docker.sock:ro'],
      networks: ['c_net', 'traefik-public'],
      mode: 'replicated',
      replicas: 1,
      constraints: ['node.role == manager'],
      labels: traefikLabels('Host:example.test', '8080'),
      limits: '0.5 cpu 1024M',
      reservations: '0.25 cpu 512M',
      restart: 'any',
    },
    db: {
      image: 'couchdb:2.3.0',
      mounts: ['volume c_db-data:/opt/couchdb/data'],
      networks: ['c_net'],
      mode: 'replicated',
      replicas: 1,
      constraints: ['node.labels.swarmpit.db-data == true'],
      limits: '0.3 cpu 512M',
      reservations: '0.15 cpu 256M',
      restart: 'any',
    },
    agent: {
      image: 'swarmpit/agent:latest',
      env: ['DOCKER_API_VERSION=1.35'],
      mounts: ['bind /var/run/docker.sock:/var/run/docker.sock:ro'],
      networks: ['c_net'],
      mode: 'global',
      limits: '0.1 cpu 64M',
      reservations: '0.05 cpu 32M',
      restart: 'any',
    },
  });
});

test('corpus dockersamples/example-voting-app docker-stack.yml (test/fixtures/volumes)', () => {
  const base = { mode: 'replicated' as const, restart: 'on-failure' as const };
  check(join(ROOT, 'volumes', 'voting-app-stack.yml'), {
    redis: { ...base, image: 'redis:alpine', ports: ['0:6379/tcp'], networks: ['c_frontend'], replicas: 2 },
    db: { image: 'postgres:9.4', mounts: ['volume c_db-data:/var/lib/postgresql/data'], networks: ['c_backend'], mode: 'replicated', replicas: 1, constraints: ['node.role == manager'], restart: 'any' },
    vote: { ...base, image: 'dockersamples/examplevotingapp_vote:before', ports: ['5000:80/tcp'], networks: ['c_frontend'], replicas: 2 },
    result: { ...base, image: 'dockersamples/examplevotingapp_result:before', ports: ['5001:80/tcp'], networks: ['c_backend'], replicas: 2 },
    worker: { ...base, image: 'dockersamples/examplevotingapp_worker', networks: ['c_backend', 'c_frontend'], replicas: 1, labels: { APP: 'VOTING' }, maxAttempts: 3 },
    visualizer: { image: 'manomarks/visualizer', ports: ['8080:8080/tcp'], mounts: ['bind /var/run/docker.sock:/var/run/docker.sock'], networks: ['c_default'], mode: 'replicated', replicas: 1, restart: 'any', stopGraceMs: 90_000 },
  });
});

test('corpus docker/awesome-compose wordpress-mysql (test/fixtures/volumes): restart: always ignored as Docker does', () => {
  const base = { mode: 'replicated' as const, replicas: 1, restart: 'any' as const, networks: ['c_default'] };
  const warnings = check(join(ROOT, 'volumes', 'wordpress-mysql.yaml'), {
    db: {
      ...base,
      image: 'mariadb:10.6.4-focal',
      command: ['--default-authentication-plugin=mysql_native_password'],
      env: ['MYSQL_DATABASE=wordpress', 'MYSQL_PASSWORD=wordpress', 'MYSQL_ROOT_PASSWORD=somewordpress', 'MYSQL_USER=wordpress'],
      mounts: ['volume c_db_data:/var/lib/mysql'],
    },
    wordpress: { ...base, image: 'wordpress:latest', ports: ['80:80/tcp'], env: ['WORDPRESS_DB_HOST=db', 'WORDPRESS_DB_NAME=wordpress', 'WORDPRESS_DB_PASSWORD=wordpress', 'WORDPRESS_DB_USER=wordpress'] },
    phpmyadmin: { ...base, image: 'wordpress:latest', ports: ['8080:80/tcp'], env: ['PMA_HOST=db', 'PMA_PASSWORD=wordpress', 'PMA_USER=wordpress'] },
  });
  assert.equal(warnings[0], 'Ignoring unsupported options: restart');
});

test('corpus stefanprodan/swarmprom (test/fixtures/volumes): every service loads, global exporters, manager-bound ones', () => {
  const { def } = loadCorpus(join(ROOT, 'volumes', 'swarmprom.yml'));
  const got = new Map(def.services.map((s) => [s.annotations?.name ?? '', summary(s, '')]));
  assert.equal(got.get('c_cadvisor')?.mode, 'global');
  assert.equal(got.get('c_node-exporter')?.mode, 'global');
  assert.deepEqual(got.get('c_grafana')?.constraints, ['node.role == manager']);
  assert.deepEqual(got.get('c_grafana')?.mounts, ['volume c_grafana:/var/lib/grafana']);
  for (const s of got.values()) assert.deepEqual(s.networks, ['c_net'], s.image);
});

test('files Swarm refuses are refused in one line naming the file and the key', () => {
  for (const [path, want] of REFUSED) {
    assert.throws(() => loadCorpus(path), (err: Error) => {
      assert.doesNotMatch(err.message, /\n/);
      assert.match(err.message, want);
      return true;
    });
  }
});
