// Checks third_party/js/url.js in a bare V8 context: a vm context given ONLY TextEncoder and
// TextDecoder (what code-sous isolates have), no Node or browser globals.
//   node third_party/js/check-url.mjs        exits non-zero on any failure
import fs from "node:fs";
import vm from "node:vm";
import { fileURLToPath } from "node:url";

const file = fileURLToPath(new URL("./url.js", import.meta.url));
const source = fs.readFileSync(file, "utf8");

// The isolates run V8 10.2 (Node 18); this node's V8 is newer. Remove, inside the context, the
// built-ins added after V8 10.2 so that a bundle relying on them fails here too (the upstream
// whatwg-url 15+ line does: String.prototype.toWellFormed, ArrayBuffer.prototype.resizable).
const V8_10_2 = `(() => {
  const del = (o, names) => { if (o) for (const n of names) delete o[n]; };
  const TA = Object.getPrototypeOf(Uint8Array);
  del(String.prototype, ["isWellFormed", "toWellFormed"]);
  del(Array.prototype, ["toSorted", "toReversed", "toSpliced", "with"]);
  del(TA.prototype, ["toSorted", "toReversed", "with"]);
  del(ArrayBuffer.prototype, ["resizable", "maxByteLength", "resize", "transfer", "transferToFixedLength", "detached"]);
  if (typeof SharedArrayBuffer === "function") del(SharedArrayBuffer.prototype, ["growable", "maxByteLength", "grow"]);
  del(Object, ["groupBy"]); del(Map, ["groupBy"]); del(Promise, ["withResolvers"]); del(Array, ["fromAsync"]);
  del(Set.prototype, ["union", "intersection", "difference", "symmetricDifference", "isSubsetOf", "isSupersetOf", "isDisjointFrom"]);
  del(globalThis, ["Iterator", "Float16Array"]);
})();`;

function freshContext() {
  const ctx = vm.createContext({ TextEncoder, TextDecoder });
  vm.runInContext(V8_10_2, ctx, { filename: "v8-10.2.js" });
  return ctx;
}

// Runs inside the context; `check(name, actual, expected)` compares with ===.
function checks() {
  const results = [];
  const check = (name, actual, expected) => results.push({ name, ok: actual === expected, actual: String(actual), expected: String(expected) });
  const throwsTypeError = (name, fn) => {
    let err = null;
    try { fn(); } catch (e) { err = e; }
    check(name, err instanceof TypeError ? "TypeError" : String(err), "TypeError");
  };

  check("typeof URL", typeof URL, "function");
  check("typeof URLSearchParams", typeof URLSearchParams, "function");
  check("URL is non-enumerable on globalThis", Object.keys(globalThis).includes("URL"), false);

  const u = new URL("https://user:pw@Example.COM:8080/a/../b?x=1#f");
  check("href", u.href, "https://user:pw@example.com:8080/b?x=1#f");
  check("protocol", u.protocol, "https:");
  check("username", u.username, "user");
  check("password", u.password, "pw");
  check("host", u.host, "example.com:8080");
  check("hostname", u.hostname, "example.com");
  check("port", u.port, "8080");
  check("pathname", u.pathname, "/b");
  check("search", u.search, "?x=1");
  check("hash", u.hash, "#f");
  check("origin", u.origin, "https://example.com:8080");
  check("toString", u.toString(), u.href);
  check("toJSON", u.toJSON(), u.href);
  check("JSON.stringify", JSON.stringify({ u }), JSON.stringify({ u: u.href }));
  check("String(url)", String(u), u.href);
  check("instanceof", u instanceof URL, true);
  check("toStringTag", Object.prototype.toString.call(u), "[object URL]");
  check("default port dropped", new URL("https://a.com:443/").port, "");

  check("relative ../c", new URL("../c", "https://a.com/x/y/z").href, "https://a.com/x/c");
  check("relative with URL base", new URL("?q", new URL("https://a.com/p")).href, "https://a.com/p?q");
  check("scheme-relative", new URL("//b.org/z", "https://a.com/x").href, "https://b.org/z");
  check("absolute ignores base", new URL("http://c.net/", "https://a.com/").href, "http://c.net/");

  const s = new URL("https://a.com/p?x=1");
  const sp = s.searchParams;
  check("searchParams same object", s.searchParams === sp, true);
  sp.append("y", "a b&c");
  check("append reflects into href", s.href, "https://a.com/p?x=1&y=a+b%26c");
  check("append reflects into search", s.search, "?x=1&y=a+b%26c");
  sp.set("x", "2");
  sp.delete("y");
  check("set/delete reflect", s.href, "https://a.com/p?x=2");
  s.search = "?k=v&k=w";
  check("search setter updates params", sp.getAll("k").join(","), "v,w");
  s.href = "https://b.com/?z=9";
  check("href setter updates params", sp.get("z"), "9");
  check("size", sp.size, 1);

  const fromString = new URLSearchParams("?a=1&b=2&a=3&c=%20d+e");
  check("USP from string get", fromString.get("a"), "1");
  check("USP getAll", fromString.getAll("a").join(","), "1,3");
  check("USP decode", fromString.get("c"), " d e");
  check("USP has", fromString.has("b"), true);
  check("USP missing", fromString.get("zz"), null);
  const fromObject = new URLSearchParams({ q: "x y", n: 1, "é": "ü" });
  check("USP from object", fromObject.toString(), "q=x+y&n=1&%C3%A9=%C3%BC");
  check("USP from pairs", new URLSearchParams([["a", "1"], ["b", "2"]]).toString(), "a=1&b=2");
  const seen = [];
  for (const [k, v] of fromString) seen.push(`${k}=${v}`);
  check("USP iterate", seen.join("|"), "a=1|b=2|a=3|c= d e");
  check("USP keys", [...fromString.keys()].join(","), "a,b,a,c");
  check("USP values", [...fromString.values()].join(","), "1,2,3, d e");
  const fe = [];
  fromString.forEach((v, k) => fe.push(k));
  check("USP forEach", fe.join(","), "a,b,a,c");
  const sorted = new URLSearchParams("c=3&a=1&b=2");
  sorted.sort();
  check("USP sort", sorted.toString(), "a=1&b=2&c=3");
  check("USP has(name, value)", fromString.has("a", "3"), true);

  throwsTypeError("invalid URL throws TypeError", () => new URL("not a url"));
  throwsTypeError("bad relative without base", () => new URL("/only/path"));
  throwsTypeError("bad port", () => new URL("http://a.com:99999/"));
  throwsTypeError("no args", () => new URL());
  throwsTypeError("call without new", () => URL("https://a.com/"));
  if (typeof URL.canParse === "function") {
    check("canParse ok", URL.canParse("https://a.com"), true);
    check("canParse bad", URL.canParse("nope"), false);
    check("canParse with base", URL.canParse("x", "https://a.com/"), true);
  }
  if (typeof URL.parse === "function") {
    check("URL.parse bad -> null", URL.parse("nope"), null);
    check("URL.parse ok", URL.parse("/x", "https://a.com/y").href, "https://a.com/x");
  }

  check("IPv4 hex/short", new URL("http://0x7f.1/").hostname, "127.0.0.1");
  check("IPv4 decimal", new URL("http://2130706433/").host, "127.0.0.1");
  check("IPv4 octal", new URL("http://0300.0250.0.1/").hostname, "192.168.0.1");
  throwsTypeError("IPv4 out of range", () => new URL("http://256.256.256.256.256/"));
  check("IPv6 mapped", new URL("http://[::ffff:127.0.0.1]/").hostname, "[::ffff:7f00:1]");
  check("IPv6 compress", new URL("http://[2001:db8:0:0:0:0:0:1]:80/").host, "[2001:db8::1]");
  throwsTypeError("IPv6 bad", () => new URL("http://[::1::2]/"));

  check("IDNA to punycode", new URL("https://Bücher.example/").hostname, "xn--bcher-kva.example");
  check("IDNA mapping (fullwidth)", new URL("https://ＥＸＡＭＰＬＥ.com/").hostname, "example.com");
  check("percent-encode path", new URL("https://a.com/ä b").pathname, "/%C3%A4%20b");
  check("opaque path", new URL("mailto:someone@x.org").pathname, "someone@x.org");
  check("file URL", new URL("file:///C:/x/../y").href, "file:///C:/y");
  check("blob origin", new URL("blob:https://a.com/uuid").origin, "https://a.com");
  check("data origin", new URL("data:text/plain,hi").origin, "null");
  check("backslashes special", new URL("https:\\\\a.com\\b\\c").href, "https://a.com/b/c");
  check("lone surrogate -> U+FFFD", new URL("https://a.com/?\uD800").search, "?%EF%BF%BD");

  const leaked = Object.getOwnPropertyNames(globalThis).filter(n => /^(require|process|Buffer|window|self|global|module|exports|webkitURL)$/.test(n));
  check("no leaked globals", leaked.join(","), "");
  check("no enumerable/symbol leftovers on global", Object.getOwnPropertySymbols(globalThis).length, 0);
  return JSON.stringify(results);
}

const ctx = freshContext();
try {
  vm.runInContext(source, ctx, { filename: "url.js" });
} catch (e) {
  // Print the message, not node's dump of the (single, huge) minified source line.
  const at = String((e && e.stack) || "").split("\n").filter(l => /^\s+at /.test(l)).slice(0, 3).join("\n");
  console.log(`FAIL loading url.js in a bare V8-10.2-like context: ${e && e.name}: ${e && e.message}\n${at}`);
  console.log("0 passed, 1 failed");
  process.exit(1);
}
const results = JSON.parse(vm.runInContext(`(${checks.toString()})()`, ctx, { filename: "checks.js" }));

let failed = 0;
for (const r of results) {
  if (!r.ok) {
    failed++;
    console.log(`FAIL ${r.name}: got ${JSON.stringify(r.actual)}, want ${JSON.stringify(r.expected)}`);
  }
}

// Rough cost of compiling + running the file once in a fresh context (no code cache).
const times = [];
for (let i = 0; i < 20; i++) {
  const c = freshContext();
  const t0 = process.hrtime.bigint();
  new vm.Script(source, { filename: `url-${i}.js` }).runInContext(c);
  times.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
const firstUse = (() => {
  const c = freshContext();
  new vm.Script(source, { filename: "url-first.js" }).runInContext(c);
  const t0 = process.hrtime.bigint();
  vm.runInContext("new URL('https://Bücher.example/a?b=1').searchParams.get('b')", c);
  return Number(process.hrtime.bigint() - t0) / 1e6;
})();
const first = times[0];
times.sort((a, b) => a - b);
console.log(`url.js: ${source.length} bytes; compile+run in a fresh context: first ${first.toFixed(2)} ms, ` +
  `min ${times[0].toFixed(2)} ms, median ${times[times.length >> 1].toFixed(2)} ms; first IDNA parse ${firstUse.toFixed(2)} ms`);
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
