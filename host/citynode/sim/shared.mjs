// Memory shared by the supervisor (main thread) and the VM worker: serial rings, control
// words and the virtual clock. Everything here survives a worker being terminated (a power
// cut), which is why the clock, RTC memory and the watchdog live here and not in the worker.

export const RING_CAP = 1 << 16;

// Control words (Int32Array).
export const C = {
  DOORBELL: 0, // bumped (and notified) on any event the worker may wait for
  RUN: 1, // 0 = not running user code, 1 = running user code (Ctrl-C interrupts it)
  INTR: 2, // 1 = a keyboard interrupt is pending
  KBD_CHAR: 3, // interrupt char, -1 = disabled
  MSGS: 4, // control messages posted and not yet taken by the worker
  WDT_ON: 5, // 1 = a watchdog is running (deadline in clock word W_DEADLINE)
  RTC_VALID: 6, // 1 = RTC memory / RTC time hold data (cleared by a power cut)
  RTC_LEN: 7, // bytes of RTC memory written by the user
  INTR_DONE: 8, // bumped each time the worker consumed an interrupt
  HEAP_PEAK: 9, // upper bound of the heap in use: live at the last collection + allocated since
  HEAP_BASE: 10, // gc.mem_alloc() after boot with only the simulator's modules loaded
  BOOTS: 11, // VM boots (soft and hard)
  HEAP_LIVE_PEAK: 12, // highest heap in use right after a collection (what cannot be freed)
  HEAP_OVER: 13, // collections after which the live heap exceeded the board's heap
  GC_RUNS: 14, // collections at safe points (heapgc.mjs)
  GC_SKIPPED: 15, // safe points where the shadow stack was too deep to collect
  SIZE: 16,
};

// Clock words (BigInt64Array, microseconds).
export const K = {
  OFFSET: 0, // virtual_now = OFFSET + real_now
  RTC: 1, // RTC time (us since 2000-01-01) = RTC + virtual_now
  W_DEADLINE: 2, // watchdog deadline (virtual us)
  LAST_RX: 3, // real_now when the console last received a byte
  BOOT: 4, // virtual time of the last hardware reset (ticks_ms origin)
  LIMIT: 5, // if > 0: sleeps do not jump past this virtual time (run_until); they wait for it to move
  SIZE: 8,
};

export function realNowUs() {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000);
}

export function makeShared() {
  return {
    ctl: new SharedArrayBuffer(C.SIZE * 4),
    clk: new SharedArrayBuffer(K.SIZE * 8),
    rx: newRingBuffers(),
    tx: newRingBuffers(),
    rtcmem: new SharedArrayBuffer(2048),
  };
}

function newRingBuffers() {
  return { hdr: new SharedArrayBuffer(16), data: new SharedArrayBuffer(RING_CAP) };
}

/** The virtual clock: real time flows, sleeps and advance() jump it forward. */
export class Clock {
  constructor(clkBuf) {
    this.k = new BigInt64Array(clkBuf);
  }
  nowUs() {
    return Number(Atomics.load(this.k, K.OFFSET)) + realNowUs();
  }
  nowMs() {
    return this.nowUs() / 1000;
  }
  advanceUs(us) {
    if (us > 0) Atomics.add(this.k, K.OFFSET, BigInt(Math.floor(us)));
  }
  get(word) {
    return Number(Atomics.load(this.k, word));
  }
  set(word, value) {
    Atomics.store(this.k, word, BigInt(Math.floor(value)));
  }
}

/** Single-producer single-consumer byte ring over SharedArrayBuffers. */
export class Ring {
  constructor(bufs) {
    this.h = new Int32Array(bufs.hdr); // [head, tail, seq]
    this.d = new Uint8Array(bufs.data);
    this.mask = this.d.length - 1;
  }
  available() {
    return (Atomics.load(this.h, 0) - Atomics.load(this.h, 1)) | 0;
  }
  space() {
    return this.d.length - this.available();
  }
  write(bytes, start = 0, end = bytes.length) {
    let head = Atomics.load(this.h, 0);
    const n = Math.min(end - start, this.space());
    for (let i = 0; i < n; i++) {
      this.d[head & this.mask] = bytes[start + i];
      head = (head + 1) | 0;
    }
    Atomics.store(this.h, 0, head);
    Atomics.add(this.h, 2, 1);
    Atomics.notify(this.h, 2);
    return n;
  }
  writeByte(b) {
    const head = Atomics.load(this.h, 0);
    if (this.space() <= 0) return 0;
    this.d[head & this.mask] = b;
    Atomics.store(this.h, 0, (head + 1) | 0);
    return 1;
  }
  signal() {
    Atomics.add(this.h, 2, 1);
    Atomics.notify(this.h, 2);
  }
  peek() {
    if (this.available() <= 0) return -1;
    return this.d[Atomics.load(this.h, 1) & this.mask];
  }
  readByte() {
    if (this.available() <= 0) return -1;
    const tail = Atomics.load(this.h, 1);
    const b = this.d[tail & this.mask];
    Atomics.store(this.h, 1, (tail + 1) | 0);
    return b;
  }
  read(max) {
    const n = Math.min(max, this.available());
    const out = new Uint8Array(n);
    let tail = Atomics.load(this.h, 1);
    for (let i = 0; i < n; i++) {
      out[i] = this.d[tail & this.mask];
      tail = (tail + 1) | 0;
    }
    Atomics.store(this.h, 1, tail);
    if (n) {
      Atomics.add(this.h, 2, 1);
      Atomics.notify(this.h, 2);
    }
    return out;
  }
  clear() {
    Atomics.store(this.h, 1, Atomics.load(this.h, 0));
  }
  seq() {
    return Atomics.load(this.h, 2);
  }
}
