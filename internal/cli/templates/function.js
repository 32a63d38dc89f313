// A code-sous function: an ES module whose default export handles one event.
// Run it locally with `cs fn test --path .` and publish it with `cs fn draft upload` + `cs fn publish`.
/// <reference path="./cs.d.ts" />

/** @type {import('./cs').Handler} */
export default async function (event, ctx) {
  cs.log.info({ msg: "invoked", activation: ctx.activation_id });
  const name = (event && event.name) || "world";
  return {
    statusCode: 200,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ hello: name }),
  };
}
