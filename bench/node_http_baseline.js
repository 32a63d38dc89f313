// Baseline of bench/http-bench.sh: a bare Node.js HTTP server that runs the same handler in a
// fresh `vm` context per request, with an API-Gateway-v2 style event.
'use strict';
const http = require('node:http');
const vm = require('node:vm');

const port = Number(process.argv[2] || 18090);
const script = new vm.Script(`
  const handler = (event, ctx) => ({ statusCode: 200, headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ok: true, path: event.rawPath, id: ctx.activation_id }) });
  handler(JSON.parse(eventJson), JSON.parse(ctxJson));
`);
let n = 0;
http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const event = {
      version: '2.0', routeKey: '$default', rawPath: req.url.split('?')[0],
      rawQueryString: req.url.split('?')[1] || '', headers: req.headers,
      requestContext: { http: { method: req.method, path: req.url } },
      body: Buffer.concat(chunks).toString('base64'), isBase64Encoded: true,
    };
    const ctx = vm.createContext({ eventJson: JSON.stringify(event), ctxJson: JSON.stringify({ activation_id: String(++n) }) });
    const r = script.runInContext(ctx);
    res.writeHead(r.statusCode, r.headers);
    res.end(r.body);
  });
}).listen(port, '127.0.0.1', () => console.log(`listening ${port}`));
