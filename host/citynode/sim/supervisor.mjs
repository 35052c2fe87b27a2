// The virtual board's supervisor: owns the serial port (the pty master handed over by the
// Python launcher), the control socket, the compiled WebAssembly module and the VM worker.
// It is the "board" seen from outside: power, reset button, virtual clock, radio log.
//
// Usage: node supervisor.mjs CONFIG.json   (written by citynode.sim; see board.py)
import crypto from "node:crypto";
import fs from "node:fs";
import { Session } from "node:inspector";
import net from "node:net";
import path from "node:path";
import tty from "node:tty";
import { fileURLToPath } from "node:url";
import { MessageChannel, Worker } from "node:worker_threads";
import { locateMicroPython } from "../vm/locate.mjs";
import { C, Clock, K, Ring, makeShared, realNowUs } from "./shared.mjs";

const simDir = path.dirname(fileURLToPath(import.meta.url));
const cfg = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
cfg.pace ??= "fast";
cfg.rxGraceMs ??= 2000;
const board = JSON.parse(fs.readFileSync(cfg.boardFile, "utf8"));
let scenario = cfg.scenarioFile ? JSON.parse(fs.readFileSync(cfg.scenarioFile, "utf8")) : cfg.scenario ?? null;

const log = (...a) => process.stderr.write(`[sim ${new Date().toISOString()}] ${a.join(" ")}\n`);

// ---------------------------------------------------------------- shared state
const shared = makeShared();
const ctl = new Int32Array(shared.ctl);
const clock = new Clock(shared.clk);
const rx = new Ring(shared.rx);
const tx = new Ring(shared.tx);
const rtcmem = new Uint8Array(shared.rtcmem);
clock.set(K.OFFSET, -realNowUs()); // virtual time starts at 0
Atomics.store(ctl, C.KBD_CHAR, 3);

const wasmPath = new URL("micropython.wasm", locateMicroPython());
const wasmModule = new WebAssembly.Module(fs.readFileSync(wasmPath));
const uniqueId = "240ac4" + crypto.createHash("sha256").update(`${board.name}:${cfg.stateDir}`).digest("hex").slice(0, 6);

const stats = {
  boots: 0, boot_ms_last: 0, boot_ms_total: 0, resets: {}, crashes: 0, deepsleeps: 0, rx_dropped: 0, tx_dropped: 0,
  interrupts: 0, hard_interrupts: 0, power_cuts: 0,
};
let radio = [];
const consoleLog = { chunks: [], size: 0, total: 0 };
const LOG_MAX = 1 << 20;

// ---------------------------------------------------------------- serial port
const serial = new tty.ReadStream(cfg.masterFd);
serial.setRawMode?.(true);
serial.on("data", onSerial);
serial.on("error", (e) => log("serial error", e.message));
serial.resume();

function doorbell() {
  Atomics.add(ctl, C.DOORBELL, 1);
  Atomics.notify(ctl, C.DOORBELL);
}

function onSerial(buf) {
  clock.set(K.LAST_RX, realNowUs());
  const kbd = Atomics.load(ctl, C.KBD_CHAR);
  for (const b of buf) {
    if (b === kbd && Atomics.load(ctl, C.RUN) === 1 && powered) {
      interrupt();
      continue;
    }
    if (!powered || rx.writeByte(b) === 0) stats.rx_dropped++;
  }
  rx.signal();
  doorbell();
}

function drainTx() {
  const n = tx.available();
  if (n <= 0) return;
  const data = tx.read(n);
  recordConsole(data);
  serialWrite(Buffer.from(data));
}

// Writes to the pty master are non-blocking (the fd is set so by the launcher). When nobody
// reads the port for a while, output is dropped as a USB-serial bridge drops it: the board
// never blocks on its console and a client connecting later sees only what the kernel kept.
const outQ = [];
let outQBytes = 0;
let lastProgress = Date.now();
let pumpTimer = null;
function serialWrite(buf) {
  if (outQ.length && Date.now() - lastProgress > 500) {
    stats.tx_dropped += outQBytes; // nobody has read the port for a while
    outQ.length = 0;
    outQBytes = 0;
  }
  if (outQBytes > 4 << 20) {
    stats.tx_dropped += buf.length;
    return;
  }
  if (!outQ.length) lastProgress = Date.now();
  outQ.push(buf);
  outQBytes += buf.length;
  pump();
}
function pump() {
  while (outQ.length) {
    let n;
    try {
      n = fs.writeSync(cfg.masterFd, outQ[0]);
    } catch (e) {
      if (e.code !== "EAGAIN") {
        outQ.length = 0;
        outQBytes = 0;
        return;
      }
      if (!pumpTimer) pumpTimer = setTimeout(() => ((pumpTimer = null), pump()), 5);
      return;
    }
    lastProgress = Date.now();
    outQBytes -= n;
    if (n >= outQ[0].length) outQ.shift();
    else outQ[0] = outQ[0].subarray(n);
  }
}

function recordConsole(data) {
  const b = Buffer.from(data);
  consoleLog.chunks.push(b);
  consoleLog.size += b.length;
  consoleLog.total += b.length;
  while (consoleLog.size > LOG_MAX && consoleLog.chunks.length > 1) consoleLog.size -= consoleLog.chunks.shift().length;
  for (const wt of waiters.slice()) wt.check();
}

async function txLoop() {
  for (;;) {
    const seq = tx.seq();
    drainTx();
    const r = Atomics.waitAsync(tx.h, 2, seq, 200);
    if (r.async) await r.value;
    else await new Promise((res) => setImmediate(res)); // never starve the event loop
  }
}
txLoop();

// ---------------------------------------------------------------- Ctrl-C: cooperative first, then through the inspector
const inspector = new Session();
let inspectorSession = null;
try {
  inspector.connect();
  inspector.on("NodeWorker.attachedToWorker", (ev) => (inspectorSession = ev.params.sessionId));
  inspector.post("NodeWorker.enable", { waitForDebuggerOnStart: false });
} catch (e) {
  log("inspector unavailable: Ctrl-C cannot stop loops that never call out", e.message);
}

function interrupt() {
  stats.interrupts++;
  Atomics.store(ctl, C.INTR, 1);
  doorbell();
  const done = Atomics.load(ctl, C.INTR_DONE);
  setTimeout(() => {
    if (Atomics.load(ctl, C.INTR) !== 1 || Atomics.load(ctl, C.INTR_DONE) !== done) return;
    if (Atomics.load(ctl, C.RUN) !== 1 || !inspectorSession) return;
    stats.hard_interrupts++;
    inspector.post("NodeWorker.sendMessageToWorker", {
      sessionId: inspectorSession,
      message: JSON.stringify({ id: 1, method: "Runtime.evaluate", params: { expression: "globalThis.__cnHardIntr && __cnHardIntr()" } }),
    });
  }, 30);
}

// ---------------------------------------------------------------- the worker (the powered chip)
let worker = null;
let port = null;
let powered = false;
let lastReset = null;

function startWorker(kind) {
  const ch = new MessageChannel();
  port = ch.port1;
  clock.set(K.BOOT, clock.nowUs());
  Atomics.store(ctl, C.RUN, 0);
  Atomics.store(ctl, C.INTR, 0);
  Atomics.store(ctl, C.MSGS, 0);
  Atomics.store(ctl, C.KBD_CHAR, 3);
  inspectorSession = null;
  worker = new Worker(path.join(simDir, "worker.mjs"), {
    workerData: { shared, wasmModule, cfg, board, scenario, simDir, uniqueId, resetKind: kind, port: ch.port2 },
    transferList: [ch.port2],
  });
  const me = worker;
  powered = true;
  worker.on("message", (m) => onWorker(m));
  worker.on("error", (e) => {
    if (worker !== me) return;
    stats.crashes++;
    log("worker error", e && e.stack ? e.stack.slice(0, 1500) : e);
    if (stats.boots === 0) startError = String(e && e.message ? e.message : e).split("\n")[0];
  });
  worker.on("exit", (code) => {
    if (worker !== me) return;
    if (powered) {
      stats.crashes++;
      log("worker exited unexpectedly", code);
      powered = false;
    }
  });
}

async function stopWorker() {
  const w = worker;
  worker = null;
  powered = false;
  idleWorker = false;
  if (w) await w.terminate();
  drainTx();
}

function onWorker(m) {
  lastWorkerMsg = m;
  if (m.t === "boot") {
    stats.boots++;
    stats.boot_ms_last = m.ms;
    stats.boot_ms_total += m.ms;
  } else if (m.t === "reset") {
    stats.resets[m.kind] = (stats.resets[m.kind] || 0) + 1;
    lastReset = m.kind;
  } else if (m.t === "radio") {
    radio.push(...m.packets);
  } else if (m.t === "deepsleep") {
    stats.deepsleeps++;
  } else if (m.t === "log") {
    log("vm:", m.msg);
  } else if (m.t === "fatal") {
    stats.crashes++;
    log("worker fatal:", m.msg);
    if (stats.boots === 0) startError = m.msg.split("\n")[0];
  }
  for (const wt of waiters.slice()) wt.check();
}

function postToWorker(msg) {
  if (!worker || !port) return false;
  port.postMessage(msg);
  Atomics.add(ctl, C.MSGS, 1);
  doorbell();
  return true;
}

let lastWorkerMsg = null;

/** Ask the VM to reset itself (it keeps the device models); terminate it if it is too busy to. */
async function cooperative(kind, ackType) {
  if (!worker || !powered) return false;
  lastWorkerMsg = null;
  postToWorker({ t: "reset", kind });
  const ok = await waitFor(() => lastWorkerMsg && lastWorkerMsg.t === ackType, 500);
  return ok;
}

async function powerCut() {
  stats.power_cuts++;
  if (await cooperative("poweroff", "off")) {
    powered = false;
    idleWorker = true;
  } else await stopWorker();
  rx.clear();
  // What needs power is gone: RTC memory and time, the watchdog, pending interrupts.
  clearRtcDomain();
  Atomics.store(ctl, C.WDT_ON, 0);
}

function clearRtcDomain() {
  // What the EN pin (or a power cut) resets with the chip: RTC memory and RTC time.
  rtcmem.fill(0);
  Atomics.store(ctl, C.RTC_VALID, 0);
  Atomics.store(ctl, C.RTC_LEN, 0);
  clock.set(K.RTC, -clock.nowUs());
}

async function resetTo(kind) {
  if (kind === "hard") clearRtcDomain();
  if (kind === "hard" && (await cooperative("hard", "reset"))) return;
  await stopWorker();
  startWorker(kind);
}

let idleWorker = false;
function powerOn() {
  if (powered) return;
  if (worker && idleWorker) {
    idleWorker = false;
    powered = true;
    postToWorker({ t: "poweron" });
    return;
  }
  startWorker("poweron");
}

// Watchdog for VMs busy in a loop that never calls out: the chip resets at the deadline.
setInterval(() => {
  if (!powered || Atomics.load(ctl, C.WDT_ON) !== 1) return;
  if (clock.get(K.W_DEADLINE) + 200000 < clock.nowUs() && Atomics.load(ctl, C.RUN) === 1) {
    log("watchdog reset (VM busy)");
    stats.resets.wdt_forced = (stats.resets.wdt_forced || 0) + 1;
    resetTo("wdt");
  }
}, 100).unref();

// ---------------------------------------------------------------- waiting for console output / events (control API)
const waiters = [];
function waitFor(pred, timeoutMs) {
  return new Promise((resolve) => {
    const wt = {
      check() {
        if (pred()) {
          done(true);
        }
      },
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    function done(ok) {
      clearTimeout(timer);
      const i = waiters.indexOf(wt);
      if (i >= 0) waiters.splice(i, 1);
      resolve(ok);
    }
    waiters.push(wt);
    wt.check();
  });
}

function consoleText(from) {
  const all = Buffer.concat(consoleLog.chunks);
  const start = consoleLog.total - all.length;
  return { text: all.subarray(Math.max(0, from - start)).toString("latin1"), end: consoleLog.total, start };
}

// ---------------------------------------------------------------- control socket (JSON lines)
function status() {
  return {
    name: cfg.name, board: board.name, port: cfg.slavePath, pid: process.pid, powered, state_dir: cfg.stateDir,
    virtual_ms: Math.floor(clock.nowMs()), heap_peak: Atomics.load(ctl, C.HEAP_PEAK),
    heap_base: Atomics.load(ctl, C.HEAP_BASE), heap_limit: cfg.heap, last_reset: lastReset, stats,
    heap_live_peak: Atomics.load(ctl, C.HEAP_LIVE_PEAK), heap_over_limit: Atomics.load(ctl, C.HEAP_OVER),
    gc_runs: Atomics.load(ctl, C.GC_RUNS), gc_skipped: Atomics.load(ctl, C.GC_SKIPPED),
    console_bytes: consoleLog.total, radio_pending: radio.length,
  };
}

const handlers = {
  status: async () => status(),
  advance: async (r) => {
    const limit = clock.get(K.LIMIT);
    const us = Number(r.ms) * 1000;
    if (limit > 0) clock.set(K.LIMIT, limit + us); // held: let it run that much further
    else {
      clock.advanceUs(us);
      // The jump is time the firmware spends doing what it does (waiting and feeding); it gets
      // no CPU to feed during it, so a running watchdog's deadline moves with the clock (moved
      // after the jump: a feed in between then errs on the late side, never fires falsely).
      if (Atomics.load(ctl, C.WDT_ON) === 1 && us > 0) clock.set(K.W_DEADLINE, clock.get(K.W_DEADLINE) + us);
    }
    doorbell();
    return { virtual_ms: Math.floor(clock.nowMs()) };
  },
  time_limit: async (r) => {
    clock.set(K.LIMIT, r.ms === null || r.ms === undefined ? 0 : Math.max(1, Number(r.ms) * 1000));
    doorbell();
    return { virtual_ms: Math.floor(clock.nowMs()) };
  },
  power_cut: async () => (await powerCut(), {}),
  power_on: async () => (powerOn(), {}),
  press_reset: async () => (await resetTo("hard"), {}),
  radio_packets: async () => {
    const r = radio;
    radio = [];
    return { packets: r };
  },
  set_scenario: async (r) => {
    scenario = r.scenario;
    postToWorker({ t: "scenario", scenario });
    return {};
  },
  console: async (r) => consoleText(r.from ?? 0),
  wait_console: async (r) => {
    const from = r.from ?? 0;
    const needle = String(r.text);
    const ok = await waitFor(() => consoleText(from).text.includes(needle), r.timeout_ms ?? 10000);
    return { found: ok, ...consoleText(from) };
  },
  wait_boots: async (r) => ({ ok: await waitFor(() => stats.boots >= r.count, r.timeout_ms ?? 10000), boots: stats.boots }),
  write: async (r) => (onSerial(Buffer.from(r.data, "base64")), {}),
  stop: async () => {
    setTimeout(shutdown, 10);
    return {};
  },
};

const server = net.createServer((sock) => {
  let buf = "";
  sock.on("data", (d) => {
    buf += d.toString("utf8");
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      handleLine(sock, line);
    }
  });
  sock.on("error", () => {});
});

async function handleLine(sock, line) {
  let req;
  try {
    req = JSON.parse(line);
    const h = handlers[req.cmd];
    if (!h) throw new Error(`unknown command ${req.cmd}`);
    const res = await h(req);
    sock.write(JSON.stringify({ id: req.id, ok: true, ...res }) + "\n");
  } catch (e) {
    sock.write(JSON.stringify({ id: req && req.id, ok: false, error: String(e && e.message ? e.message : e) }) + "\n");
  }
}

let shuttingDown = false;
async function shutdown() {
  if (shuttingDown) return;
  shuttingDown = true;
  setTimeout(() => process.exit(0), 3000); // whatever happens below, go
  await stopWorker();
  server.close();
  try {
    fs.rmSync(cfg.socketPath, { force: true });
  } catch {
    /* gone */
  }
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
if (cfg.parentPid) {
  setInterval(() => {
    try {
      process.kill(cfg.parentPid, 0);
    } catch {
      shutdown();
    }
  }, 1000).unref();
}

fs.rmSync(cfg.socketPath, { force: true });
let startError = null;
server.listen(cfg.socketPath, async () => {
  startWorker("poweron");
  // Ready once the VM has booted (or failed: then say why, e.g. a bad scenario).
  const ok = await waitFor(() => stats.boots > 0 || startError !== null || !powered, 30000);
  const ready = ok && stats.boots > 0;
  process.stdout.write(JSON.stringify({ ready, port: cfg.slavePath, pid: process.pid, error: startError }) + "\n");
  if (!ready) setTimeout(shutdown, 50);
});
