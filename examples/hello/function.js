// The sample function of the README: greets the caller. Works for API invokes (event is the
// JSON you send) and for HTTP invokes (event is the API-Gateway-v2 request).
// `cs fn init` also writes cs.d.ts, the types of `cs` and of the handler, for editors.

export default async function (event, ctx) {
  let name = "world";
  if (event && typeof event.name === "string") name = event.name;
  if (event && event.rawQueryString) {
    name = new URLSearchParams(event.rawQueryString).get("name") || name;
  }
  cs.log.info({ msg: "greeting", name, activation: ctx.activation_id });
  return {
    statusCode: 200,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ hello: name, trigger: ctx.trigger.type }),
  };
}
