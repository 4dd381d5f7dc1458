// The web view's page: markup and style only; web/app.ts fills it from the manager's feed.
// Everything is served by the manager itself: no font, script or style from anywhere else.
export const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>baton</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1d2330; }
  header { display: flex; gap: 1.5em; align-items: baseline; padding: .6em 1em; background: #1d2330; color: #fff; }
  header h1 { font-size: 1.1em; margin: 0; }
  header .status { margin-left: auto; font-size: .85em; opacity: .8; }
  main { display: grid; grid-template-columns: 1fr 22em; gap: 1em; padding: 1em; }
  h2 { font-size: 1em; margin: 0 0 .5em; }
  #nodes { display: flex; gap: .75em; overflow-x: auto; align-items: flex-start; }
  .node { min-width: 13em; background: #fff; border-radius: 6px; box-shadow: 0 1px 2px #0002; }
  .node > .head { padding: .5em .6em; border-bottom: 1px solid #e3e5ea; }
  .node > .head .name { font-weight: 600; }
  .node > .head .meta { font-size: .8em; color: #5b6475; }
  .node.down > .head { background: #fde8e8; }
  .node .tasks { padding: .4em; display: flex; flex-direction: column; gap: .3em; }
  .task { border-radius: 4px; padding: .3em .45em; font-size: .85em; border-left: 4px solid #9aa3b2; background: #f7f8fa; }
  .task.running { border-color: #2f9e44; }
  .task.pending, .task.assigned, .task.accepted, .task.preparing, .task.starting { border-color: #f08c00; }
  .task.failed, .task.rejected, .task.orphaned { border-color: #e03131; }
  .task.unhealthy { background: #fff0f0; }
  .task .state { color: #5b6475; }
  table { border-collapse: collapse; width: 100%; background: #fff; box-shadow: 0 1px 2px #0002; border-radius: 6px; }
  th, td { text-align: left; padding: .35em .6em; border-bottom: 1px solid #e3e5ea; font-size: .9em; }
  section + section { margin-top: 1em; }
  #events { list-style: none; margin: 0; padding: 0; font-size: .85em; background: #fff; border-radius: 6px; box-shadow: 0 1px 2px #0002; max-height: 70vh; overflow-y: auto; }
  #events li { padding: .25em .6em; border-bottom: 1px solid #eef0f3; }
  #events time { color: #5b6475; margin-right: .4em; }
</style>
</head>
<body>
<header><h1>baton</h1><span id="cluster"></span><span class="status" id="status">connecting…</span></header>
<main>
  <div>
    <section><h2>Nodes and tasks</h2><div id="nodes"></div></section>
    <section><h2>Services</h2>
      <table><thead><tr><th>NAME</th><th>MODE</th><th>REPLICAS</th><th>IMAGE</th><th>PORTS</th><th>UPDATE</th></tr></thead><tbody id="services"></tbody></table>
    </section>
  </div>
  <aside><h2>Recent events</h2><ul id="events"></ul></aside>
</main>
<script type="module" src="/app.js"></script>
</body>
</html>
`;
