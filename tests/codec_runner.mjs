// Runs a generated citynode payload formatter the way network servers do, for tests.
//
// stdin: {"source": "...js...", "cases": [...], "values": [[channel_id, raw], ...]}
// Each case is {"mode": "ttn" | "chirpstack", "input": {bytes, fPort, recvTime?, variables?}};
// recvTime (ISO string) becomes a Date of the sandbox.
// stdout: {"es5_parse": "ok" | "unavailable" | "<syntax error>", "results": [...], "values": [...]}
//
// The sandbox is a fresh vm context stripped of every global and built-in method newer
// than ES5.1 (and of Intl, which QuickJS lacks), so accidental ES2015+ library use fails
// here as it would on an ES5.1 engine. Syntax is checked separately with Node's bundled
// acorn parser in ES5 mode (needs --expose-internals; reported "unavailable" otherwise).
// "ttn" cases evaluate the source once and call decodeUplink(input); "chirpstack" cases
// evaluate `source + "decodeUplink(chirpstack_input)"` in a fresh context per case, as
// ChirpStack v4 does.
import vm from "node:vm";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

const STRIP = `
(function () {
  var g = this;
  var globals = ["Map", "Set", "WeakMap", "WeakSet", "WeakRef", "FinalizationRegistry", "Promise",
    "Symbol", "Proxy", "Reflect", "BigInt", "BigInt64Array", "BigUint64Array", "ArrayBuffer",
    "SharedArrayBuffer", "DataView", "Atomics", "Int8Array", "Uint8Array", "Uint8ClampedArray",
    "Int16Array", "Uint16Array", "Int32Array", "Uint32Array", "Float32Array", "Float64Array",
    "AggregateError", "Intl", "globalThis", "queueMicrotask", "structuredClone", "WebAssembly"];
  var methods = {
    Array: ["from", "of"],
    "Array.prototype": ["find", "findIndex", "findLast", "findLastIndex", "fill", "includes",
      "flat", "flatMap", "entries", "keys", "values", "copyWithin", "at", "toSorted",
      "toReversed", "toSpliced", "with"],
    Object: ["assign", "entries", "values", "fromEntries", "getOwnPropertySymbols", "is",
      "setPrototypeOf", "getOwnPropertyDescriptors", "hasOwn", "groupBy"],
    "String.prototype": ["padStart", "padEnd", "repeat", "startsWith", "endsWith", "includes",
      "codePointAt", "normalize", "at", "trimStart", "trimEnd", "trimLeft", "trimRight",
      "replaceAll", "matchAll", "isWellFormed", "toWellFormed"],
    String: ["fromCodePoint", "raw"],
    Number: ["isInteger", "isFinite", "isNaN", "isSafeInteger", "parseFloat", "parseInt",
      "EPSILON", "MAX_SAFE_INTEGER", "MIN_SAFE_INTEGER"],
    Math: ["trunc", "sign", "log2", "log10", "cbrt", "hypot", "clz32", "imul", "fround",
      "expm1", "log1p", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh"]
  };
  var i, name;
  for (i = 0; i < globals.length; i++) {
    delete g[globals[i]];
  }
  for (name in methods) {
    var parts = name.split(".");
    var obj = g[parts[0]];
    if (parts.length > 1) { obj = obj[parts[1]]; }
    for (i = 0; i < methods[name].length; i++) {
      delete obj[methods[name][i]];
    }
  }
}).call(this);
`;

function sandbox() {
  const ctx = vm.createContext({});
  vm.runInContext(STRIP, ctx);
  return ctx;
}

function es5Parse(source) {
  let acorn;
  try {
    acorn = require("internal/deps/acorn/acorn/dist/acorn");
  } catch {
    return "unavailable";
  }
  try {
    acorn.parse(source, { ecmaVersion: 5, sourceType: "script" });
    return "ok";
  } catch (err) {
    return String(err.message);
  }
}

// Builds the input inside the sandbox (its own Array, Date), runs one case, returns JSON text.
const RUN_CASE = `
(function (c) {
  var input = c.input;
  if (input.recvTime !== undefined && input.recvTime !== null) {
    input.recvTime = new Date(input.recvTime);
  }
  return input;
})(JSON.parse(__case))
`;

function runCase(source, shared, c) {
  try {
    if (c.mode === "chirpstack") {
      const ctx = sandbox();
      ctx.__case = JSON.stringify(c);
      vm.runInContext("var chirpstack_input = " + RUN_CASE + ";", ctx);
      const script = source + "\n\ndecodeUplink(chirpstack_input)\n";
      ctx.__out = vm.runInContext(script, ctx, { timeout: 2000 });
      return JSON.parse(vm.runInContext("JSON.stringify(__out)", ctx));
    }
    shared.__case = JSON.stringify(c);
    return JSON.parse(vm.runInContext("JSON.stringify(decodeUplink(" + RUN_CASE + "))", shared,
      { timeout: 2000 }));
  } catch (err) {
    return { exception: String(err && err.stack ? err.stack : err) };
  }
}

let text = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) {
  text += chunk;
}
const job = JSON.parse(text);
const out = { es5_parse: es5Parse(job.source), results: [], values: [] };
const shared = sandbox();
try {
  vm.runInContext(job.source, shared, { filename: "formatter.js" });
} catch (err) {
  out.load_error = String(err && err.stack ? err.stack : err);
}
if (!out.load_error) {
  for (const c of job.cases || []) {
    out.results.push(runCase(job.source, shared, c));
  }
  if (job.values && job.values.length) {
    shared.__values = JSON.stringify(job.values);
    out.values = JSON.parse(vm.runInContext(
      "JSON.stringify(JSON.parse(__values).map(function (v) { return cnValue(CITYNODE.channels[v[0]], v[1]); }))",
      shared));
  }
}
process.stdout.write(JSON.stringify(out));
