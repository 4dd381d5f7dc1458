// A DNS resolver played by a test: it knows one name, outside.test, as the address it is given;
// every other name does not exist. E2e tests stand it in for the node's resolver (through
// BATON_DNS_UPSTREAM) or a task's own (--dns), so no query leaves the machine.
import { createSocket, type Socket } from 'node:dgram';

export async function fakeResolver(address: string, port: number, answer: readonly number[]): Promise<Socket> {
  const socket = createSocket('udp4');
  socket.on('message', (q, from) => {
    let i = 12;
    const labels: string[] = [];
    while (i < q.length && q[i]! > 0 && labels.length < 64) {
      labels.push(q.subarray(i + 1, i + 1 + q[i]!).toString('latin1'));
      i += q[i]! + 1;
    }
    const question = q.subarray(12, i + 5);
    const type = q.readUInt16BE(i + 1);
    const known = labels.join('.').toLowerCase() === 'outside.test';
    const header = Buffer.from([q[0]!, q[1]!, 0x81, known ? 0x80 : 0x83, 0, 1, 0, known && type === 1 ? 1 : 0, 0, 0, 0, 0]);
    const record = known && type === 1 ? Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, ...answer]) : Buffer.alloc(0);
    socket.send(Buffer.concat([header, question, record]), from.port, from.address);
  });
  await new Promise<void>((done) => socket.bind(port, address, done));
  return socket;
}
