// `_cnsim`: the functions the VM-side Python shims (machine, esp32, time, sys, ...) call.
// Buffers cross as (address, length) into the VM's linear memory (uctypes.addressof on
// the Python side), so nothing is copied through the proxy layer and nothing allocates on
// the VM heap. Values returned to Python must stay below 2**31 (the proxy truncates to i32).
import crypto from "node:crypto";
import { C, K, realNowUs } from "./shared.mjs";

export class ResetSignal extends Error {
  /** A hardware reset of the chip: kind is "deepsleep" | "soft" (machine.reset) | "wdt". */
  constructor(kind, ms = 0) {
    super(`reset: ${kind}`);
    this.kind = kind;
    this.ms = ms;
  }
}

const TICKS_MASK = 0x3fffffff;
const UNIX_2000_S = 946684800;

export function makeHost(w) {
  // w: the worker context {ctl, clock, rx, hw, cfg, board, nvs, rtcmem, mem(), out(), cooked(), service(), post(), sampleHeap()}
  const { ctl, clock, rx, cfg } = w;
  const aes = new Map();
  let aesNext = 1;
  let lastAcct = clock.nowUs();
  let rxMeta = null;
  const uartBuf = new Map();

  const view = (addr, n) => new Uint8Array(w.mem().buffer, addr, n);
  const bytesAt = (addr, n) => Uint8Array.from(view(addr, n));

  function account(kind = "awake") {
    const now = clock.nowUs();
    const dt = (now - lastAcct) / 1000;
    lastAcct = now;
    if (dt > 0) w.hw.load(kind, dt);
  }

  function takeIntr() {
    if (Atomics.load(ctl, C.RUN) !== 1) return false;
    if (Atomics.compareExchange(ctl, C.INTR, 1, 0) === 1) {
      Atomics.add(ctl, C.INTR_DONE, 1);
      return true;
    }
    return false;
  }

  function realtime() {
    if (cfg.pace === "realtime") return true;
    const last = clock.get(K.LAST_RX);
    return cfg.rxGraceMs > 0 && last > 0 && realNowUs() - last < cfg.rxGraceMs * 1000;
  }

  function checkWdt(untilUs) {
    if (Atomics.load(ctl, C.WDT_ON) !== 1) return;
    const dl = clock.get(K.W_DEADLINE);
    if (dl <= untilUs) {
      const now = clock.nowUs();
      if (dl > now) clock.advanceUs(dl - now);
      throw new ResetSignal("wdt");
    }
  }

  /** Wait until virtual time reaches targetUs, or a wake condition. Returns -1 on Ctrl-C,
   *  1 if wake() became true, 0 at the target. */
  function waitUntil(targetUs, { interruptible = true, wake = null, stepUs = 0, forceReal = false, forceFast = false } = {}) {
    for (;;) {
      w.service();
      if (interruptible && takeIntr()) return -1;
      if (wake && wake()) return 1;
      const now = clock.nowUs();
      checkWdt(Math.min(now, targetUs));
      if (now >= targetUs) return 0;
      let until = targetUs;
      if (stepUs > 0) until = Math.min(targetUs, now + stepUs);
      if (forceFast || (!forceReal && !realtime())) {
        const limit = clock.get(K.LIMIT);
        if (limit > 0 && until > limit) {
          if (now < limit) until = limit;
          else {
            // held at the test's time limit: wait (really) until it moves
            Atomics.wait(ctl, C.DOORBELL, Atomics.load(ctl, C.DOORBELL), 50);
            continue;
          }
        }
        if (Atomics.load(ctl, C.WDT_ON) === 1) checkWdt(until);
        clock.advanceUs(until - now);
        continue;
      }
      const seen = Atomics.load(ctl, C.DOORBELL);
      if (wake && wake()) return 1;
      Atomics.wait(ctl, C.DOORBELL, seen, Math.max(1, Math.min((until - now) / 1000, 50)));
    }
  }

  /** The firmware is about to wait: flush the console, collect garbage (a safe point,
   * heapgc.mjs). True once the live heap went over the board's heap (MemoryError). */
  function waitPoint() {
    w.flush();
    w.sampleHeap();
    return w.takeOverLimit();
  }

  const host = {
    // ---- time
    ticks_ms: () => Math.floor((clock.nowUs() - clock.get(K.BOOT)) / 1000) & TICKS_MASK,
    ticks_us: () => Math.floor(clock.nowUs() - clock.get(K.BOOT)) & TICKS_MASK,
    rtc_s: () => Math.floor(w.rtcUs() / 1e6),
    rtc_frac_us: () => Math.floor(w.rtcUs() % 1e6),
    rtc_set: (secs, us) => {
      clock.set(K.RTC, secs * 1e6 + us - clock.nowUs());
      Atomics.store(ctl, C.RTC_VALID, 1);
    },
    /** -1: Ctrl-C; -3: the live heap went over the board's heap (the shim raises MemoryError). */
    sleep_us: (us) => {
      if (waitPoint()) return -3;
      account("awake");
      const r = waitUntil(clock.nowUs() + Math.max(0, us));
      account("awake");
      return r;
    },
    lightsleep: (ms) => {
      if (waitPoint()) return -3;
      account("awake");
      const r = waitUntil(clock.nowUs() + Math.max(0, ms) * 1000, { interruptible: true });
      account("sleep");
      return r;
    },
    deepsleep: (ms) => {
      waitPoint(); // the heap is gone with the reset: only its peak counts
      account("awake");
      throw new ResetSignal("deepsleep", ms);
    },
    reset: () => {
      w.flush();
      throw new ResetSignal("soft");
    },
    idle: () => {
      w.service();
      return takeIntr() ? -1 : 0;
    },
    reset_cause: () => w.resetCause(),
    wake_reason: () => w.wakeReason(),
    unique_id: () => w.uniqueId(),
    wdt_start: (ms) => {
      Atomics.store(ctl, C.WDT_ON, 1);
      clock.set(K.W_DEADLINE, clock.nowUs() + ms * 1000);
      w.wdtMs = ms;
    },
    wdt_feed: () => {
      checkWdt(clock.nowUs());
      if (Atomics.load(ctl, C.WDT_ON) === 1) clock.set(K.W_DEADLINE, clock.nowUs() + w.wdtMs * 1000);
    },

    // ---- console
    out_text: (s) => w.out(Buffer.from(String(s), "utf8"), true),
    out_raw: (addr, n) => {
      w.out(bytesAt(addr, n), false);
      return n;
    },
    flush: () => w.flush(),
    kbd_intr: (c) => Atomics.store(ctl, C.KBD_CHAR, c),
    in_avail: () => rx.available(),
    /** Read up to n bytes (at least `min`), waiting at most timeoutMs (-1: forever). -1 = Ctrl-C. */
    in_read: (addr, n, min, timeoutMs) => {
      w.flush();
      if (rx.available() < Math.max(min, 1)) w.sampleHeap();
      const dst = view(addr, n);
      let got = 0;
      const deadline = timeoutMs < 0 ? Infinity : clock.nowUs() + timeoutMs * 1000;
      for (;;) {
        while (got < n) {
          const b = rx.readByte();
          if (b < 0) break;
          dst[got++] = b;
        }
        if (got >= Math.max(min, 1) || got >= n) return got;
        const r = waitUntil(deadline, { wake: () => rx.available() > 0, stepUs: 50000, forceReal: true });
        if (r < 0) return -1;
        if (r === 0) return got;
      }
    },
    /** Wait up to timeoutMs for console input: 1 ready, 0 timeout, -1 Ctrl-C. */
    in_wait: (timeoutMs) => {
      if (rx.available() > 0) return 1;
      w.flush();
      if (timeoutMs === 0) return 0;
      w.sampleHeap();
      const deadline = timeoutMs < 0 ? Infinity : clock.nowUs() + timeoutMs * 1000;
      return waitUntil(deadline, { wake: () => rx.available() > 0, stepUs: 50000, forceReal: cfg.consoleWait !== "fast" });
    },

    // ---- pins, ADC
    pin_write: (pin, v) => {
      account();
      w.hw.pinWrite(pin, v ? 1 : 0);
    },
    /** pull: 0 none, 1 down, 2 up. An input nothing drives reads its pull level. */
    pin_read: (pin, pull) => {
      account();
      const name = pull === 2 ? "up" : pull === 1 ? "down" : null;
      return w.hw.pinRead(pin, name) ? 1 : 0;
    },
    adc_uv: (pin) => {
      account();
      w.sampleHeap();
      const v = w.hw.adcMicrovolts(pin);
      return v === null || v === undefined ? -1 : Math.max(0, Math.round(v));
    },

    // ---- I2C: 1 = ACK, 0 = NACK (ENODEV), -110 = timeout
    i2c_probe: (bus, addr) => {
      const d = w.hw.i2c(bus, addr);
      if (!d) return 0;
      try {
        return d.write(new Uint8Array(0)) === false ? 0 : 1;
      } catch {
        return 0;
      }
    },
    i2c_write: (bus, addr, ptr, n) => {
      account();
      w.sampleHeap();
      const d = w.hw.i2c(bus, addr);
      if (!d) return 0;
      try {
        return d.write(bytesAt(ptr, n)) === false ? 0 : 1;
      } catch (e) {
        return e && e.code === "ETIMEDOUT" ? -110 : 0;
      }
    },
    i2c_read: (bus, addr, ptr, n) => {
      account();
      w.sampleHeap();
      const d = w.hw.i2c(bus, addr);
      if (!d) return 0;
      let data;
      try {
        data = d.read(n);
      } catch (e) {
        return e && e.code === "ETIMEDOUT" ? -110 : 0;
      }
      if (!data) return 0;
      const dst = view(ptr, n);
      dst.fill(0xff);
      dst.set(data.subarray(0, n));
      return 1;
    },

    // ---- UART (bytes from the model are buffered here so any() can peek)
    uart_any: (id) => {
      pullUart(id);
      return (uartBuf.get(id) || []).length;
    },
    uart_open: (id) => {
      uartBuf.delete(id);
      const d = w.hw.uart(id);
      if (d && d.open) d.open();
      return d ? 1 : 0;
    },
    uart_write: (id, ptr, n) => {
      account();
      const d = w.hw.uart(id);
      if (d) d.write(bytesAt(ptr, n));
      return n;
    },
    /** Read up to n bytes waiting at most timeoutMs for the first and timeoutCharMs between bytes; -1 = Ctrl-C. */
    uart_read: (id, ptr, n, timeoutMs, timeoutCharMs) => {
      account();
      w.sampleHeap();
      const dst = view(ptr, n);
      let got = 0;
      let deadline = clock.nowUs() + Math.max(0, timeoutMs) * 1000;
      for (;;) {
        pullUart(id);
        const q = uartBuf.get(id) || [];
        while (got < n && q.length) dst[got++] = q.shift();
        if (got >= n) return got;
        if (clock.nowUs() >= deadline) return got;
        const r = waitUntil(deadline, { wake: () => (pullUart(id), (uartBuf.get(id) || []).length > 0), stepUs: 2000 });
        if (r < 0) return -1;
        if (got > 0 || r === 1) deadline = Math.max(deadline, clock.nowUs() + Math.max(timeoutCharMs, 1) * 1000);
        if (r === 0 && !(uartBuf.get(id) || []).length) return got;
      }
    },

    // ---- I2S: fills n bytes and lets the time the samples take pass
    i2s_read: (id, ptr, n, bytesPerSec, formatJson) => {
      account();
      w.sampleHeap();
      const fmt = JSON.parse(formatJson);
      const data = w.hw.i2sRead(id, n, fmt);
      const dst = view(ptr, n);
      dst.fill(0);
      if (data) dst.set(data.subarray(0, n));
      if (bytesPerSec > 0) {
        const r = waitUntil(clock.nowUs() + (n * 1e6) / bytesPerSec);
        if (r < 0) return -1;
      }
      account();
      return n;
    },

    // ---- LoRa radio (used by the VM-side lora module)
    radio_send: (ptr, n, cfgJson) => {
      account();
      w.sampleHeap();
      const cfgObj = cfgJson ? JSON.parse(cfgJson) : {};
      const r = w.hw.radioSend(bytesAt(ptr, n), cfgObj) || {};
      const airtime = Number(r.airtimeMs) || 0;
      if (airtime > 0) {
        waitUntil(clock.nowUs() + airtime * 1000, { interruptible: false });
        const now = clock.nowUs();
        lastAcct = now;
        w.hw.load("radio", airtime);
      }
      w.drainRadio();
      return Math.round(airtime * 1000); // microseconds
    },
    radio_recv: (ptr, max, timeoutMs, cfgJson) => {
      account();
      w.sampleHeap();
      const cfgObj = cfgJson ? JSON.parse(cfgJson) : undefined;
      const t0 = clock.nowUs();
      const data = w.hw.radioRecv(timeoutMs, cfgObj);
      // the receiver listens until the packet ends (wait_ms) or the timeout
      const waitMs = data && data.wait_ms !== undefined ? data.wait_ms : timeoutMs;
      if (waitMs > 0) {
        const r = waitUntil(t0 + waitMs * 1000);
        if (r < 0) return -2;
      }
      lastAcct = clock.nowUs();
      w.hw.load("rx", (lastAcct - t0) / 1000);
      if (!data) return -1;
      rxMeta = [data.rssi ?? -80, data.snr ?? 8];
      const k = Math.min(max, data.length);
      view(ptr, k).set(data.subarray(0, k));
      return k;
    },
    radio_rx_meta: () => rxMeta,
    load: (kind, ms) => w.hw.load(kind, ms),

    // ---- RTC memory (shared memory: survives everything but a power cut)
    rtc_mem_len: () => (Atomics.load(ctl, C.RTC_VALID) ? Atomics.load(ctl, C.RTC_LEN) : 0),
    rtc_mem_read: (ptr, max) => {
      const n = Math.min(max, Atomics.load(ctl, C.RTC_VALID) ? Atomics.load(ctl, C.RTC_LEN) : 0);
      view(ptr, n).set(w.rtcmem.subarray(0, n));
      return n;
    },
    rtc_mem_write: (ptr, n) => {
      if (n > 2048) return -1;
      w.rtcmem.set(view(ptr, n), 0);
      Atomics.store(ctl, C.RTC_LEN, n);
      Atomics.store(ctl, C.RTC_VALID, 1);
      return n;
    },

    // ---- NVS (committed values are durable; pending ones are not)
    nvs_get: (ns, key) => w.nvs.get(ns, key), // JSON string or null
    nvs_set: (ns, key, json) => w.nvs.set(ns, key, JSON.parse(json)),
    nvs_erase: (ns, key) => (w.nvs.erase(ns, key) ? 1 : 0),
    nvs_commit: (ns) => w.nvs.commit(ns),

    // ---- AES (cryptolib), backed by Node's crypto
    aes_new: (kptr, klen, mode, ivptr) => {
      if (![16, 24, 32].includes(klen)) return -1;
      const key = Buffer.from(bytesAt(kptr, klen));
      const iv = mode === 2 ? Buffer.from(ivptr ? bytesAt(ivptr, 16) : new Uint8Array(16)) : null;
      const h = aesNext++;
      aes.set(h, { key, mode, iv, cipher: null, dir: 0 });
      return h;
    },
    aes_run: (h, encrypt, inPtr, n, outPtr) => {
      const a = aes.get(h);
      if (!a) return -1;
      const dir = encrypt ? 1 : 2;
      if (a.dir && a.dir !== dir) return -2;
      if (!a.cipher) {
        const name = `aes-${a.key.length * 8}-${a.mode === 2 ? "cbc" : "ecb"}`;
        a.cipher = encrypt ? crypto.createCipheriv(name, a.key, a.iv) : crypto.createDecipheriv(name, a.key, a.iv);
        a.cipher.setAutoPadding(false);
        a.dir = dir;
      }
      const out = a.cipher.update(bytesAt(inPtr, n));
      view(outPtr, n).set(out.subarray(0, n));
      return n;
    },
    aes_free: (h) => aes.delete(h),

    // ---- board, heap, misc
    board_json: () => JSON.stringify(w.board),
    banner: () => w.banner,
    heap_base: () => Atomics.load(ctl, C.HEAP_BASE),
    heap_limit: () => cfg.heap,
    sample_heap: () => w.sampleHeap(),
    gc_collect: () => w.sampleHeap(true),
    urandom: (ptr, n) => {
      crypto.randomFillSync(view(ptr, n));
      return n;
    },
    log: (s) => w.post({ t: "log", msg: String(s) }),
  };

  function pullUart(id) {
    const d = w.hw.uart(id);
    if (!d) return;
    const data = d.read(4096);
    if (data && data.length) {
      let q = uartBuf.get(id);
      if (!q) uartBuf.set(id, (q = []));
      for (const b of data) if (q.length < 8192) q.push(b); // beyond rxbuf: dropped as on the chip
    }
  }

  host.account = account;
  host.takeIntr = takeIntr;
  host.waitUntil = waitUntil;
  return host;
}
