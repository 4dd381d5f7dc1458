// The demo's web service under the process runtime (no Docker engine): answers every request
// with which replica served it, so curling the mesh shows the spread over tasks and nodes.
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 8080);
const who = `${process.env.BATON_TASK_NAME ?? 'web'} (pid ${process.pid}) on node ${process.env.BATON_NODE_ID ?? '?'}`;
createServer((req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end(`hello from ${who}\n`);
}).listen(port, process.env.BATON_HOST_IP ?? '0.0.0.0');
