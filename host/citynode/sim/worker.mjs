// The VM worker: one thread per powered board. It boots the official MicroPython WebAssembly
// port (compiled once by the supervisor, instantiated per boot), runs boot.py and main.py,
// then the REPL, and implements the board's hardware for the VM-side Python shims.
// A hardware reset (deep sleep, machine.reset, watchdog) re-instantiates the VM in this
// thread; a power cut or the reset button terminates the thread (the supervisor does that).
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parentPort, receiveMessageOnPort, workerData } from "node:worker_threads";
import { locateMicroPython } from "../vm/locate.mjs";
import { Flash, ROOT } from "./flash.mjs";
import { SafePointCollector, findDepthCounter } from "./heapgc.mjs";
import { ResetSignal, makeHost } from "./host.mjs";
import { Nvs } from "./nvs.mjs";
import { Repl } from "./repl.mjs";
import { C, Clock, K, Ring } from "./shared.mjs";

const wd = workerData;
const cfg = wd.cfg;
const ctl = new Int32Array(wd.shared.ctl);
const clock = new Clock(wd.shared.clk);
const rx = new Ring(wd.shared.rx);
const tx = new Ring(wd.shared.tx);
const port = wd.port;
const post = (m) => parentPort.postMessage(m);

const RESET_CODES = { poweron: 1, hard: 2, wdt: 3, deepsleep: 4, soft: 5 };
const ROM_RST = {
  poweron: "0x1 (POWERON_RESET)",
  hard: "0x1 (POWERON_RESET)",
  wdt: "0x7 (TG0WDT_SYS_RESET)",
  deepsleep: "0x5 (DEEPSLEEP_RESET)",
  soft: "0xc (SW_CPU_RESET)",
};

// ---------------------------------------------------------------- wasm: compile once, instantiate per boot
let lastInstance = null;
let flash = null;
WebAssembly.instantiate = async (_binary, imports) => {
  imports.env.mp_js_ticks_ms = () => Math.floor((clock.nowUs() - clock.get(K.BOOT)) / 1000) >>> 0;
  imports.env.mp_js_time_ms = () => rtcUs() / 1000 + 946684800000;
  const fdSync = imports.wasi_snapshot_preview1.fd_sync;
  imports.wasi_snapshot_preview1.fd_sync = (fd) => {
    if (flash && flash.fsync) flash.fsync(fd);
    return fdSync(fd);
  };
  lastInstance = new WebAssembly.Instance(wd.wasmModule, imports);
  return { module: wd.wasmModule, instance: lastInstance };
};
const { loadMicroPython } = await import(locateMicroPython());

// ---------------------------------------------------------------- board, hardware, persistent stores
const board = wd.board;
const hw = await loadHardware();
const nvs = new Nvs(path.join(cfg.stateDir, "nvs.json"));
flash = new Flash(path.join(cfg.stateDir, "flash"));
const rtcmem = new Uint8Array(wd.shared.rtcmem);
const shims = loadShims();

async function loadHardware() {
  const clockApi = { nowMs: () => clock.nowMs() };
  let mod;
  const real = path.join(wd.simDir, "hw", "index.mjs");
  if (!cfg.standinHardware && fs.existsSync(real)) mod = await import(pathToFileURL(real).href);
  else mod = await import(pathToFileURL(path.join(wd.simDir, "standin_hw.mjs")).href);
  return mod.createHardware(board, wd.scenario, clockApi);
}

function loadShims() {
  // VM-side modules: ours (mpy/) and the device models' (hw/mpy/, e.g. lora), precompiled to
  // .mpy by the launcher when mpy-cross is available (boots are then much faster).
  // cfg.without: board modules left out (e.g. "lora", so a driver installed with mip is used).
  const files = {};
  const without = new Set(cfg.without ?? []);
  const dirs = cfg.shimDir ? [cfg.shimDir] : [path.join(wd.simDir, "mpy"), path.join(wd.simDir, "hw", "mpy")];
  for (const dir of dirs) {
    if (!fs.existsSync(dir)) continue;
    for (const name of fs.readdirSync(dir)) {
      if (without.has(name.replace(/\.m?py$/, ""))) continue;
      if (name.endsWith(".py") || name.endsWith(".mpy")) files[name] = fs.readFileSync(path.join(dir, name));
    }
  }
  return files;
}

function rtcUs() {
  return clock.get(K.RTC) + clock.nowUs();
}

// ---------------------------------------------------------------- console output (cooked like the ESP32's stdout)
const outBuf = new Uint8Array(4096);
let outLen = 0;
let logTail = Buffer.alloc(0);

function outBytes(bytes) {
  for (let i = 0; i < bytes.length; i++) {
    if (outLen >= outBuf.length) flush();
    outBuf[outLen++] = bytes[i];
  }
  if (outLen >= 512) flush();
}

function out(bytes, cooked) {
  if (typeof bytes === "string") bytes = Buffer.from(bytes, "utf8");
  if (cooked) {
    for (let i = 0; i < bytes.length; i++) {
      if (outLen >= outBuf.length - 1) flush();
      if (bytes[i] === 0x0a) outBuf[outLen++] = 0x0d;
      outBuf[outLen++] = bytes[i];
    }
    if (outLen >= 512) flush();
  } else outBytes(bytes);
}

function flush() {
  let off = 0;
  while (off < outLen) {
    const n = tx.write(outBuf, off, outLen);
    off += n;
    if (off < outLen) {
      // the supervisor drains continuously; wait for room
      const seq = tx.seq();
      Atomics.wait(tx.h, 2, seq, 20);
    }
  }
  outLen = 0;
}

let lastStdoutCheck = 0;
function vmStdout(bytes) {
  // print() and the C-level sys.stdout: cooked, and a chance to deliver Ctrl-C to loops that print
  out(bytes, true);
  if (bytes[0] === 0x0a) flush();
  const now = performance.now();
  if (now - lastStdoutCheck > 5) {
    lastStdoutCheck = now;
    flush();
    if (Atomics.load(ctl, C.RUN) === 1 && Atomics.compareExchange(ctl, C.INTR, 1, 0) === 1) {
      Atomics.add(ctl, C.INTR_DONE, 1);
      vm.mp._module._mp_sched_keyboard_interrupt();
    }
  }
}

// ---------------------------------------------------------------- control messages from the supervisor
function service() {
  if (Atomics.load(ctl, C.MSGS) <= 0) return;
  for (;;) {
    const m = receiveMessageOnPort(port);
    if (!m) break;
    Atomics.sub(ctl, C.MSGS, 1);
    handle(m.message);
  }
}

function handle(msg) {
  if (msg.t === "reset") throw new ResetSignal(msg.kind); // "hard" (EN button) or "poweroff"
  if (msg.t === "scenario") {
    hw.setScenario(msg.scenario);
    post({ t: "ack", id: msg.id });
  }
}

function drainRadio() {
  const pk = hw.drainRadio ? hw.drainRadio() : [];
  if (pk && pk.length) post({ t: "radio", packets: pk });
}

// ---------------------------------------------------------------- the VM
let vm = null;
let resetKind = wd.resetKind; // cause of the last hardware reset
let wakeReason = 0;

let depthAddr = null; // the port's call-depth counter: the same static address in every instance

/** A safe point (heapgc.mjs): collect garbage if enough was allocated, and account heap use. */
function sampleHeap(force = false) {
  if (!vm || !vm.gc) return;
  const r = vm.gc.safePoint(force);
  const base = Atomics.load(ctl, C.HEAP_BASE);
  if (r.before - base > Atomics.load(ctl, C.HEAP_PEAK)) Atomics.store(ctl, C.HEAP_PEAK, r.before - base);
  if (r.skipped) Atomics.add(ctl, C.GC_SKIPPED, 1);
  if (cfg.heapTrace) post({ t: "log", msg: `heap ${r.before - base} -> ${r.after - base}` });
  if (!r.collected) return;
  Atomics.add(ctl, C.GC_RUNS, 1);
  const live = r.after - base;
  if (live > Atomics.load(ctl, C.HEAP_LIVE_PEAK)) Atomics.store(ctl, C.HEAP_LIVE_PEAK, live);
  if (live > cfg.heap) {
    Atomics.add(ctl, C.HEAP_OVER, 1);
    vm.overLimit = true; // the next sleep raises MemoryError in the firmware, as an allocation would on the board
  }
}

/** True once after the live heap went over the board's heap (see sampleHeap). */
function takeOverLimit() {
  if (!vm || !vm.overLimit) return false;
  vm.overLimit = false;
  return true;
}

const w = {
  ctl, clock, rx, cfg, board, hw, nvs, rtcmem, service, post, flush, drainRadio, sampleHeap, takeOverLimit, rtcUs,
  mem: () => lastInstanceMemory(),
  out: (bytes, cooked) => out(bytes, cooked),
  resetCause: () => RESET_CODES[resetKind] || 1,
  wakeReason: () => wakeReason,
  uniqueId: () => wd.uniqueId,
  banner: bannerText(),
  wdtMs: 0,
};
const host = makeHost(w);

function lastInstanceMemory() {
  return vm.instance.exports.memory;
}

function bannerText() {
  const mcu = { esp32: "ESP32", esp32s3: "ESP32S3", esp32c3: "ESP32C3" }[board.chip] || "ESP32";
  const name = `Generic ${mcu} module`;
  return `MicroPython v1.27.0 on 2025-12-09; ${name} with ${mcu}`;
}

// The simulator's own modules live in this heap too (on a board they are C code in flash):
// they get room beyond the board's heap so the firmware's share is the configured size.
const SIM_HEAP_ALLOWANCE = 96 * 1024;

async function newVm() {
  const t0 = performance.now();
  const mp = await loadMicroPython({
    heapsize: cfg.heap + SIM_HEAP_ALLOWANCE, stdout: vmStdout, stderr: vmStdout, linebuffer: false,
  });
  const instance = lastInstance;
  const ex = instance.exports;
  if (depthAddr === null) {
    const start = ex.emscripten_stack_get_base();
    depthAddr = findDepthCounter(mp, ex.memory, start, Math.min(1 << 20, ex.memory.buffer.byteLength - start));
    if (depthAddr < 0) post({ t: "log", msg: "heap: the port's call-depth counter was not found; no collection while the firmware runs" });
  }
  vm = { mp, instance, gc: null, overLimit: false };
  flash.populate(mp.FS);
  flash.install(mp.FS);
  mp.FS.mkdir("/cnsim");
  for (const [name, data] of Object.entries(shims)) mp.FS.writeFile(`/cnsim/${name}`, data);
  mp.registerJsModule("_cnsim", host);
  mp.runPython(
    "import os, vfs, sys\n" +
      "os.umount('/')\nos.mount(vfs.VfsPosix('/flash'), '/')\n" +
      "os.mount(vfs.VfsPosix('/cnsim'), '/cnsim')\nos.chdir('/')\n" +
      "sys.path.insert(0, '/cnsim')\nimport _cnsim_boot\nsys.path.pop(0)\n" +
      "os.umount('/cnsim')\ndel os, vfs, sys, _cnsim_boot\nimport gc\ngc.collect()\ndel gc\n",
  );
  const gcmod = mp.pyimport("_cnsim_gc");
  vm.gc = new SafePointCollector({
    exports: ex, depthAddr, scanAddr: gcmod._SCAN_ADDR, scanLen: gcmod._SCAN_LEN,
    collect: gcmod._real_collect, memAlloc: gcmod._real_alloc, everyBytes: cfg.gcEveryBytes ?? 2048,
  });
  const base = vm.gc.memAlloc();
  Atomics.store(ctl, C.HEAP_BASE, base);
  vm.builtins = mp.pyimport("builtins");
  vm.main = mp.globals.__dict__;
  Atomics.add(ctl, C.BOOTS, 1);
  post({ t: "boot", ms: performance.now() - t0, base });
  return vm;
}

/** Compile and run source in __main__; returns null or {type, text} for an uncaught exception. */
function execSource(src, mode, filename) {
  Atomics.store(ctl, C.INTR, 0);
  Atomics.store(ctl, C.KBD_CHAR, 3);
  Atomics.store(ctl, C.RUN, 1);
  try {
    const code = vm.builtins.compile(src, filename, mode);
    vm.builtins.exec(code, vm.main);
    return null;
  } catch (e) {
    if (e && e.name === "PythonError") return { type: e.type, text: hideShimFrames(e.message) };
    throw e;
  } finally {
    Atomics.store(ctl, C.RUN, 0);
    Atomics.store(ctl, C.INTR, 0);
    flush();
    sampleHeap();
  }
}

/** Tracebacks as on the board: the simulator's own modules are C code there, with no frames. */
function hideShimFrames(text) {
  return text.replace(/  File "\/cnsim\/[^\n]*\n/g, "");
}

/** pyexec_file_if_exists: 1 ok (or no file), 0 exception, "soft" on SystemExit. */
function runFile(name) {
  let src;
  try {
    src = vm.mp.FS.readFile(`${ROOT}/${name}`, { encoding: "utf8" });
  } catch {
    return 1;
  }
  const exc = execSource(src, "exec", name);
  if (!exc) return 1;
  if (exc.type === "SystemExit") return "soft";
  out(exc.text, true);
  flush();
  return 0;
}

function getc() {
  for (;;) {
    const b = rx.readByte();
    if (b >= 0) return b;
    flush();
    service();
    if (Atomics.load(ctl, C.WDT_ON) === 1 && clock.get(K.W_DEADLINE) <= clock.nowUs()) throw new ResetSignal("wdt");
    const seen = Atomics.load(ctl, C.DOORBELL);
    if (rx.available() > 0) continue;
    Atomics.wait(ctl, C.DOORBELL, seen, 100);
  }
}

const repl = new Repl({
  getc,
  out: (s) => out(typeof s === "string" ? Buffer.from(s, "latin1") : s, false),
  outBytes: (b) => out(b, false),
  exec: execSource,
  banner: w.banner,
});

function romBanner(kind) {
  if (board.chip === "esp32") {
    return (
      "ets Jun  8 2016 00:22:57\r\n\r\n" +
      `rst:${ROM_RST[kind]},boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n` +
      "configsip: 0, SPIWP:0xee\r\nclk_drv:0x00,q_drv:0x00,d_drv:0x00,cs0_drv:0x00,hd_drv:0x00,wp_drv:0x00\r\n" +
      "mode:DIO, clock div:2\r\nload:0x3fff0030,len:4892\r\nload:0x40078000,len:14896\r\n" +
      "load:0x40080400,len:4\r\nload:0x40080404,len:3372\r\nentry 0x400805b0\r\n"
    );
  }
  return `ESP-ROM:${board.chip}-20210327\r\nBuild:Mar 27 2021\r\nrst:${ROM_RST[kind]},boot:0x8 (SPI_FAST_FLASH_BOOT)\r\nentry 0x403c98d0\r\n`;
}

/** One VM lifetime: boot.py, main.py, REPL. Returns on a soft reboot; throws ResetSignal. */
function session() {
  const r = runFile("boot.py");
  if (r === "soft") return;
  if (repl.mode === "friendly" && r === 1) {
    if (runFile("main.py") === "soft") return;
  }
  repl.run();
}

function waitPowerOn() {
  for (;;) {
    if (Atomics.load(ctl, C.MSGS) > 0) {
      const m = receiveMessageOnPort(port);
      if (m) {
        Atomics.sub(ctl, C.MSGS, 1);
        if (m.message.t === "poweron") return;
        if (m.message.t === "scenario") hw.setScenario(m.message.scenario);
        continue;
      }
    }
    Atomics.wait(ctl, C.DOORBELL, Atomics.load(ctl, C.DOORBELL), 200);
  }
}

async function main() {
  let hardware = true;
  for (;;) {
    if (hardware) {
      clock.set(K.BOOT, clock.nowUs());
      rx.clear(); // a chip reset empties the UART FIFO
      repl.mode = "friendly";
      Atomics.store(ctl, C.WDT_ON, 0); // any chip reset stops the watchdog (a soft reboot does not)
      out(romBanner(resetKind), false);
      flush();
    } else {
      out("MPY: soft reboot\r\n", false);
      flush();
    }
    post({ t: "reset", kind: hardware ? resetKind : "softreboot" });
    await newVm();
    hardware = false;
    let sig = null;
    try {
      session();
    } catch (e) {
      if (!(e instanceof ResetSignal)) throw e;
      sig = e;
    }
    while (sig) {
      const e = sig;
      sig = null;
      flush();
      Atomics.store(ctl, C.WDT_ON, 0); // a chip reset (or power cut) stops the watchdog: it does not run in deep sleep
      hardware = true;
      resetKind = e.kind;
      wakeReason = 0;
      try {
        if (e.kind === "poweroff") {
          // Power cut: RAM (the VM, pending NVS writes) is gone; the sensors stay where they are.
          nvs.pending.clear();
          if (hw.reset) hw.reset();
          post({ t: "off" });
          waitPowerOn();
          resetKind = "poweron";
          continue;
        }
        if (hw.reset) hw.reset(); // pins back to inputs (sensor power off), UART buffers empty
        if (e.kind === "hard") nvs.pending.clear(); // the EN pin resets RAM as a power cut does
        if (e.kind === "deepsleep") {
          wakeReason = e.ms > 0 ? 4 : 0; // TIMER_WAKE
          post({ t: "deepsleep", ms: e.ms });
          if (e.ms > 0) {
            const fast = cfg.pace !== "realtime";
            host.waitUntil(clock.nowUs() + e.ms * 1000, { interruptible: false, forceReal: !fast, forceFast: fast });
          } else for (;;) host.waitUntil(clock.nowUs() + 3600e6, { interruptible: false, forceReal: true }); // until reset/power
          host.account("sleep");
        }
      } catch (e2) {
        if (!(e2 instanceof ResetSignal)) throw e2;
        sig = e2;
      }
    }
  }
}

globalThis.__cnHardIntr = () => {
  // Reached through the inspector while the VM is busy in a loop that never calls out.
  if (Atomics.load(ctl, C.RUN) !== 1) return "idle";
  if (Atomics.compareExchange(ctl, C.INTR, 1, 0) !== 1) return "none";
  Atomics.add(ctl, C.INTR_DONE, 1);
  vm.mp._module._mp_sched_keyboard_interrupt();
  return "ok";
};

main().catch((e) => {
  post({ t: "fatal", msg: String(e && e.stack ? e.stack : e).slice(0, 2000) });
});
