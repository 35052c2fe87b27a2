// Garbage collection at safe points, so the virtual board's heap behaves like a board's.
//
// The WebAssembly port (1.27, MICROPY_GC_SPLIT_HEAP_AUTO) never collects while Python runs:
// gc_collect() only sets a flag, and the collection happens when the outermost call from JS
// returns, because the C stack and the Wasm locals of a running program cannot be scanned.
// A node's main.py never returns, so without help its heap only grows (7 MB for a day of the
// noise node) and says nothing about the 64-112 KiB a real ESP32 has.
//
// A safe point is a call from the simulator's Python shims into JS while the firmware waits
// (a sleep, a bus transfer, the radio). There every live Python frame is on the pystack, which
// the collector scans; what is left is the shadow C stack (address-taken C locals, nlr buffers,
// small argument arrays), which we copy into a rooted buffer that the collector scans too.
// The port's external-call depth counter is then set to 0 for one call into gc.collect(), so
// the collection runs as at the top level, and restored.
//
// Not covered: an object that only a Wasm local of a C function holds while that C function
// calls back into Python which reaches a safe point (e.g. list(g) where the generator g sleeps).
// The firmware and the shims do not do that; tests/test_sim_heap.py checks the patterns they use.
// CITYNODE_SIM_HEAP_TRACE=1 in the environment of VirtualBoard logs every safe point's heap
// (before -> after) to the board's supervisor.log.

/**
 * Finds the port's static `external_call_depth` counter: the one word of static data that is
 * 0 at the top level and counts the nesting of JS -> Python calls. Returns its address or -1.
 * `mp` is a fresh loadMicroPython() result, `memory` the instance's memory.
 */
export function findDepthCounter(mp, memory, staticStart, staticLen) {
  const snaps = [];
  const snap = () => {
    snaps.push(new Uint32Array(memory.buffer.slice(staticStart, staticStart + staticLen)));
  };
  let nested = null;
  mp.registerJsModule("_cnsim_probe", { snap, call: (n) => nested(n) });
  mp.runPython(
    "import _cnsim_probe\ndef _cnsim_nest(n):\n    _cnsim_probe.snap()\n    if n:\n        _cnsim_probe.call(n - 1)\n",
  );
  nested = mp.globals.get("_cnsim_nest");
  snap();
  nested(2);
  mp.runPython("del _cnsim_nest, _cnsim_probe\nimport sys\nsys.modules.pop('_cnsim_probe')\ndel sys\n");
  let found = -1;
  const [s0, s1, s2, s3] = snaps;
  for (let i = 0; i < s0.length; i++) {
    if (s0[i] === 0 && s1[i] === 1 && s2[i] === 2 && s3[i] === 3) {
      if (found >= 0) return -1; // ambiguous: do not guess
      found = staticStart + i * 4;
    }
  }
  return found;
}

export class SafePointCollector {
  /**
   * exports: the Wasm instance's exports; depthAddr: from findDepthCounter();
   * scanAddr/scanLen: a bytearray the shims keep alive (a root) for the shadow stack copy;
   * collect/memAlloc: proxies of the VM's gc.collect and gc.mem_alloc.
   */
  constructor({ exports, depthAddr, scanAddr, scanLen, collect, memAlloc, everyBytes }) {
    this.ex = exports;
    this.depthAddr = depthAddr;
    this.scanAddr = scanAddr;
    this.scanLen = scanLen & ~3;
    this.collect = collect;
    this.memAlloc = memAlloc;
    this.everyBytes = everyBytes;
    this.lastAfter = memAlloc();
  }

  /**
   * Measure, and collect if enough was allocated since the last collection (or if forced).
   * Returns {before, after, collected, skipped}: heap in use before and after, in bytes.
   */
  safePoint(force = false) {
    const before = this.memAlloc();
    if (!force && before - this.lastAfter < this.everyBytes) return { before, after: before, collected: false };
    const base = this.ex.emscripten_stack_get_base();
    const cur = this.ex.emscripten_stack_get_current();
    const used = base - cur;
    if (used > this.scanLen || this.depthAddr < 0) {
      // shadow stack deeper than the scan buffer (or no counter): no collection this time
      return { before, after: before, collected: false, skipped: true };
    }
    const u8 = new Uint8Array(this.ex.memory.buffer);
    u8.copyWithin(this.scanAddr, cur, base);
    u8.fill(0, this.scanAddr + used, this.scanAddr + this.scanLen);
    const words = new Int32Array(this.ex.memory.buffer);
    const depth = words[this.depthAddr >> 2];
    words[this.depthAddr >> 2] = 0;
    try {
      this.collect(); // 0 -> 1 -> 0: the port collects when the depth returns to 0
    } finally {
      new Int32Array(this.ex.memory.buffer)[this.depthAddr >> 2] = depth;
    }
    new Uint8Array(this.ex.memory.buffer).fill(0, this.scanAddr, this.scanAddr + this.scanLen);
    const after = this.memAlloc();
    this.lastAfter = after;
    return { before, after, collected: true };
  }
}
