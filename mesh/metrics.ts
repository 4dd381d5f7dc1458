// Prometheus text exposition (format 0.0.4) of the mesh's counters, written by hand: a few
// families with labels do not justify a metrics dependency.
import type { Backend } from './backend-set.js';

/** One published port or service address as the metrics see it. */
export interface PortStats {
  service: string;
  protocol: 'tcp' | 'udp';
  port: number;
  /** Service addresses (internal listeners) only: the address listened on, and sources refused. */
  address?: string;
  refused?: number;
  /** Service addresses: connections the node's kernel NAT rules took instead of the relay. */
  kernel?: number;
  backends: Iterable<Backend>;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

interface Family {
  name: string;
  type: 'gauge' | 'counter';
  help: string;
  lines: string[];
}

export function renderMetrics(ports: readonly PortStats[]): string {
  const fam = (name: string, type: Family['type'], help: string): Family => ({ name, type, help, lines: [] });
  const open = fam('baton_mesh_connections_open', 'gauge', 'Connections (UDP: flows) open through the routing mesh, per backend.');
  const total = fam('baton_mesh_connections_total', 'counter', 'Connections (UDP: flows) established to a backend.');
  const bytes = fam('baton_mesh_bytes_total', 'counter', 'Bytes relayed; direction "in" is client to backend, "out" backend to client.');
  const failures = fam('baton_mesh_backend_failures_total', 'counter', 'Failed connects to a backend (refused, unreachable, timed out).');
  const datagrams = fam('baton_mesh_udp_datagrams_total', 'counter', 'UDP datagrams relayed, per direction.');
  const kernel = fam('baton_mesh_kernel_connections_total', 'counter', 'Connections to a service address that the node sent straight to a task by NAT rules, without the relay.');
  const refused = fam('baton_mesh_refused_total', 'counter', 'Connections (UDP: datagrams) to a service address refused because their source is on none of its networks.');
  for (const p of ports) {
    // Published ports listen on the node's one data-path address: only service addresses say theirs.
    const base = `service="${escapeLabel(p.service)}",protocol="${p.protocol}",port="${p.port}"${p.address === undefined ? '' : `,address="${escapeLabel(p.address)}"`}`;
    if (p.refused !== undefined) refused.lines.push(`${refused.name}{${base}} ${p.refused}`);
    if (p.kernel !== undefined) kernel.lines.push(`${kernel.name}{${base}} ${p.kernel}`);
    for (const b of p.backends) {
      const l = `${base},backend="${escapeLabel(b.addr)}"`;
      open.lines.push(`${open.name}{${l}} ${b.open}`);
      total.lines.push(`${total.name}{${l}} ${b.connectionsTotal}`);
      bytes.lines.push(`${bytes.name}{${l},direction="in"} ${b.bytesIn}`);
      bytes.lines.push(`${bytes.name}{${l},direction="out"} ${b.bytesOut}`);
      failures.lines.push(`${failures.name}{${l}} ${b.failuresTotal}`);
      if (p.protocol === 'udp') {
        datagrams.lines.push(`${datagrams.name}{${l},direction="in"} ${b.datagramsIn}`);
        datagrams.lines.push(`${datagrams.name}{${l},direction="out"} ${b.datagramsOut}`);
      }
    }
  }
  return [open, total, bytes, failures, datagrams, refused, kernel]
    .map((f) => [`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`, ...f.lines].join('\n'))
    .join('\n')
    .concat('\n');
}
