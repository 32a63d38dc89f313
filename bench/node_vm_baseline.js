// Baseline for bench/runtime_bench: the same handler in a fresh Node.js `vm` context per call,
// with the same result validation. Prints JSON: {"activations", "wall_ms", "cpu_ms"}.
'use strict';
const vm = require('node:vm');

const n = Number(process.argv[2] || 2000);
const source = `
  const handler = (event, ctx) => ({ statusCode: 200, headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ hello: event.name, id: ctx.activation_id }) });
  handler(JSON.parse(eventJson), JSON.parse(ctxJson));
`;
const script = new vm.Script(source);  // compiled once, like V8's code cache would allow

function validate(r) {
  if (r === null || typeof r !== 'object') throw new Error('bad result');
  if (!Number.isInteger(r.statusCode) || typeof r.body !== 'string') throw new Error('bad result');
  for (const k of Object.keys(r.headers)) if (typeof r.headers[k] !== 'string') throw new Error('bad header');
  return r;
}

function once() {
  const ctx = vm.createContext({
    eventJson: '{"name":"bench"}',
    ctxJson: '{"activation_id":"00000000-0000-4000-8000-000000000000"}',
  });
  return validate(script.runInContext(ctx));
}

for (let i = 0; i < 20; i++) once();
const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
for (let i = 0; i < n; i++) once();
const t1 = process.hrtime.bigint();
const cpu = process.cpuUsage(cpu0);
// One call every 3 ms, like the paced run of runtime_bench.
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const samples = [];
for (let i = 0; i < 400; i++) {
  Atomics.wait(sleeper, 0, 0, 3);
  const s0 = process.hrtime.bigint();
  once();
  samples.push(Number(process.hrtime.bigint() - s0) / 1e6);
}
samples.sort((a, b) => a - b);
console.log(JSON.stringify({
  activations: n,
  wall_ms: Number(t1 - t0) / 1e6 / n,
  cpu_ms: (cpu.user + cpu.system) / 1000 / n,
  paced_p50_ms: samples[samples.length >> 1],
  paced_p99_ms: samples[Math.floor(samples.length * 0.99)],
}));
