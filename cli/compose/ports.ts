// `ports:` and `expose:` of a Compose service: short syntax ("8080:80", "80", "8080:80/udp", or a number) and
// long syntax (target, published, protocol, mode: ingress|host); numbers and protocols are
// spec/ports.ts's, as --publish's.
import { baton } from '../../client/index.js';
import { parseExpose, parsePortNumber, parsePortProtocol } from '../../spec/index.js';
import type { Node } from './reader.js';

export function readPorts(ports: Node): baton.PortConfig.$Properties[] {
  return ports.items().map((p) => (p.isMap() ? longPort(p) : shortPort(p)));
}

function portNumber(n: Node, text: string): number {
  const port = parsePortNumber(text);
  if (!port.ok) n.fail(port.problem);
  return port.value;
}

function protocol(n: Node, text: string | undefined): baton.PortProtocol {
  const proto = parsePortProtocol(text);
  if (!proto.ok) n.fail(proto.problem);
  return proto.value;
}

function shortPort(n: Node): baton.PortConfig.$Properties {
  const text = n.text().trim();
  const slash = text.split('/');
  if (slash.length > 2) n.fail(`must be [published:]target[/protocol] (got "${text}")`);
  const parts = slash[0]!.split(':');
  if (parts.length > 2) n.fail(`binds a host IP ("${text}"), which is not supported: the routing mesh listens on every node address`);
  const publishedPort = parts.length === 2 ? portNumber(n, parts[0]!) : 0;
  return {
    targetPort: portNumber(n, parts[parts.length - 1]!),
    publishedPort,
    protocol: protocol(n, slash[1]),
    publishMode: baton.PublishMode.INGRESS,
  };
}

function longPort(n: Node): baton.PortConfig.$Properties {
  n.checkKeys(['target', 'published', 'protocol', 'mode'], ['name', 'app_protocol']);
  const target = n.child('target');
  if (!target.present) n.fail('needs a target port');
  const published = n.child('published');
  const mode = n.child('mode');
  return {
    targetPort: portNumber(target, target.text()),
    publishedPort: published.present ? portNumber(published, published.text()) : 0,
    protocol: n.child('protocol').present ? protocol(n.child('protocol'), n.child('protocol').text()) : baton.PortProtocol.TCP,
    publishMode: mode.present && mode.oneOf(['ingress', 'host'] as const) === 'host' ? baton.PublishMode.HOST : baton.PublishMode.INGRESS,
  };
}

/** `expose:` items: "3000", 3000, "53/udp" (target ports reachable on the service's networks). */
export function readExpose(expose: Node): baton.PortConfig.$Properties[] {
  return expose.items().map((item) => {
    const port = parseExpose(item.text(), item.path);
    // The port's own reason names the text; any other (the protocol, the form) is followed by it.
    if (!port.ok) return item.fail(/\(got /.test(port.why) ? port.why : `must be PORT[/tcp|udp]: ${port.why}${item.got()}`);
    return port.value;
  });
}
