// cs-js prelude. It runs once per process, inside the V8 startup snapshot that every fresh
// isolate is created from: it receives the native bindings (N), installs the web-platform
// globals and returns the helpers the engine needs, among them install(providers), which adds
// the `cs` object of one activation. N itself never becomes reachable from user code.
(function (N) {
  'use strict';
  const g = globalThis;
  const stringify = JSON.stringify;
  const ObjectKeys = Object.keys;
  const isArray = Array.isArray;
  const define = (obj, name, value) =>
    Object.defineProperty(obj, name, { value, writable: true, configurable: true, enumerable: false });

  // ---- logs ----------------------------------------------------------------------------
  function format(v) {
    if (typeof v === 'string') return v;
    if (v instanceof Error) return v.stack ? String(v.stack) : String(v);
    try {
      const s = stringify(v);
      return s === undefined ? String(v) : s;
    } catch (e) {
      try { return String(v); } catch (e2) { return '[unserialisable value]'; }
    }
  }
  function emit(level, args) {
    let msg = '';
    for (let i = 0; i < args.length; i++) msg += (i ? ' ' : '') + format(args[i]);
    N.log(level, msg);
  }
  const console = {
    log(...a) { emit('info', a); },
    info(...a) { emit('info', a); },
    debug(...a) { emit('info', a); },
    trace(...a) { emit('info', a); },
    warn(...a) { emit('warn', a); },
    error(...a) { emit('error', a); },
  };
  define(g, 'console', console);

  // ---- timers and microtasks ---------------------------------------------------------------
  function checkCallback(fn, what) {
    if (typeof fn !== 'function') throw new TypeError(`${what}: callback must be a function`);
  }
  define(g, 'setTimeout', function setTimeout(fn, ms, ...args) {
    checkCallback(fn, 'setTimeout');
    return N.setTimer(fn, Number(ms) || 0, false, args);
  });
  define(g, 'setInterval', function setInterval(fn, ms, ...args) {
    checkCallback(fn, 'setInterval');
    return N.setTimer(fn, Number(ms) || 0, true, args);
  });
  define(g, 'clearTimeout', function clearTimeout(id) { if (id !== undefined) N.clearTimer(Number(id)); });
  define(g, 'clearInterval', function clearInterval(id) { if (id !== undefined) N.clearTimer(Number(id)); });
  define(g, 'queueMicrotask', function queueMicrotask(fn) {
    checkCallback(fn, 'queueMicrotask');
    N.queueMicrotask(fn);
  });

  // ---- encoding ----------------------------------------------------------------------------
  define(g, 'atob', function atob(s) {
    if (arguments.length < 1) throw new TypeError('atob: 1 argument required');
    return N.atob(String(s));
  });
  define(g, 'btoa', function btoa(s) {
    if (arguments.length < 1) throw new TypeError('btoa: 1 argument required');
    return N.btoa(String(s));
  });

  function toBytes(input) {
    if (input === undefined) return new Uint8Array(0);
    if (input instanceof ArrayBuffer) return new Uint8Array(input);
    if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    throw new TypeError('The "input" argument must be an ArrayBuffer or ArrayBufferView');
  }
  class TextEncoder {
    get encoding() { return 'utf-8'; }
    encode(input = '') { return N.utf8Encode(String(input)); }
    encodeInto(src, dest) {
      if (!(dest instanceof Uint8Array)) throw new TypeError('encodeInto: destination must be a Uint8Array');
      src = String(src);
      let read = 0, written = 0;
      for (const ch of src) {
        const cp = ch.codePointAt(0);
        const n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        if (written + n > dest.length) break;
        dest.set(N.utf8Encode(ch), written);
        written += n;
        read += ch.length;
      }
      return { read, written };
    }
  }
  const utf8Labels = ['utf-8', 'utf8', 'unicode-1-1-utf-8'];
  class TextDecoder {
    #fatal; #ignoreBOM;
    constructor(label = 'utf-8', options = {}) {
      if (!utf8Labels.includes(String(label).trim().toLowerCase())) {
        throw new RangeError(`TextDecoder: the "${label}" encoding is not supported (utf-8 only)`);
      }
      this.#fatal = Boolean(options && options.fatal);
      this.#ignoreBOM = Boolean(options && options.ignoreBOM);
    }
    get encoding() { return 'utf-8'; }
    get fatal() { return this.#fatal; }
    get ignoreBOM() { return this.#ignoreBOM; }
    decode(input = undefined) { return N.utf8Decode(toBytes(input), this.#fatal, this.#ignoreBOM); }
  }
  define(g, 'TextEncoder', TextEncoder);
  define(g, 'TextDecoder', TextDecoder);

  // ---- crypto, structuredClone -----------------------------------------------------------
  const crypto = {
    getRandomValues(array) { return N.getRandomValues(array); },
    randomUUID() { return N.randomUUID(); },
  };
  define(g, 'crypto', Object.freeze(crypto));
  define(g, 'structuredClone', function structuredClone(value) {
    if (arguments.length < 1) throw new TypeError('structuredClone: 1 argument required');
    return N.structuredClone(value);
  });

  // ---- URL, URLSearchParams: compiled on first use --------------------------------------
  for (const name of ['URL', 'URLSearchParams']) {
    Object.defineProperty(g, name, {
      configurable: true,
      enumerable: false,
      get() {
        delete g.URL;
        delete g.URLSearchParams;
        N.loadUrl();
        return g[name];
      },
      set(v) { define(g, name, v); },
    });
  }

  // ---- cs host API (per activation) ----------------------------------------------------------
  function install(providers) {
    const cs = {
      log: Object.freeze({
        info(v) { N.log('info', format(v)); },
        warn(v) { N.log('warn', format(v)); },
        error(v) { N.log('error', format(v)); },
      }),
    };
    for (const p of providers) {
      const obj = {};
      for (const m of p.methods) {
        const name = p.name, method = m;
        obj[method] = function (...args) {
          let json;
          try {
            json = stringify(args, (k, v) => (v === undefined ? null : v));
          } catch (e) {
            return Promise.reject(new TypeError(`cs.${name}.${method}: arguments must be JSON-serialisable`));
          }
          return N.host(name, method, json);
        };
      }
      cs[p.name] = Object.freeze(obj);
    }
    define(g, 'cs', Object.freeze(cs));
  }

  // ---- helpers for the engine ------------------------------------------------------------
  const tokenRe = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  function normalize(v) {
    const isResponse = v !== null && typeof v === 'object' && !isArray(v) &&
      ('statusCode' in v || 'body' in v || 'headers' in v || 'isBase64Encoded' in v);
    if (!isResponse) {
      let body;
      try { body = stringify(v); } catch (e) { return { invalid: `result is not JSON-serialisable: ${e && e.message}` }; }
      return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: body === undefined ? '' : body, isBase64Encoded: false };
    }
    const statusCode = v.statusCode === undefined ? 200 : v.statusCode;
    const headers = v.headers === undefined ? {} : v.headers;
    const body = v.body === undefined ? '' : v.body;
    const isBase64Encoded = v.isBase64Encoded === undefined ? false : v.isBase64Encoded;
    if (!Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) {
      return { invalid: 'result.statusCode must be an integer from 100 to 599' };
    }
    if (headers === null || typeof headers !== 'object' || isArray(headers)) {
      return { invalid: 'result.headers must be an object whose values are strings' };
    }
    const h = {};
    for (const k of ObjectKeys(headers)) {
      const x = headers[k];
      if (!tokenRe.test(k)) return { invalid: `result.headers: invalid header name ${stringify(k)}` };
      if (typeof x !== 'string') return { invalid: `result.headers[${stringify(k)}] must be a string` };
      if (/[\r\n\0]/.test(x)) return { invalid: `result.headers[${stringify(k)}] must not contain CR, LF or NUL` };
      h[k] = x;
    }
    if (typeof body !== 'string') return { invalid: 'result.body must be a string' };
    if (typeof isBase64Encoded !== 'boolean') return { invalid: 'result.isBase64Encoded must be a boolean' };
    return { statusCode, headers: h, body, isBase64Encoded };
  }

  function describe(e) {
    const out = { name: 'Error', message: '', stack: '', code: '' };
    try {
      if (e instanceof Error || (e !== null && typeof e === 'object' && 'message' in e)) {
        out.name = String(e.name || 'Error');
        out.message = String(e.message);
        out.stack = typeof e.stack === 'string' ? e.stack : '';
        if (typeof e.code === 'string') out.code = e.code;
      } else {
        out.name = 'Error';
        out.message = 'Uncaught ' + format(e);
      }
    } catch (e2) {
      out.message = 'uncaught exception (it could not be described)';
    }
    return out;
  }

  return { install, normalize, describe, thenReturn: (p, v) => p.then(() => v) };
})
