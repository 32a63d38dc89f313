// The benchmark handler: echoes a little of the request, like bench/node_http_baseline.js.
export default (event, ctx) => ({
  statusCode: 200,
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ ok: true, path: event.rawPath, id: ctx.activation_id }),
});
