// A UART sensor's output as the board's RX buffer sees it: each byte arrives at a virtual time
// (8N1 at the sensor's baud rate), bytes pile up until the firmware reads them, and past the
// RX buffer size (MicroPython's default rxbuf is 256) newer bytes are lost, as on the ESP32.
import { Device } from "./device.mjs";

export class UartDevice extends Device {
  static baud = 9600;

  configure(cfg) {
    super.configure(cfg);
    this.uartId = cfg.uart ?? this.ctx.board.uart?.id;
    this.rxbuf = this.num("rxbuf", 256);
    this.byteMs = 10000 / this.constructor.baud;
    if (!this.q) {
      this.q = []; // [{at, byte}] bytes sent by the sensor, not yet read by the board
      this.genUntilMs = 0; // frames due up to this time are already in q
      this.hostIn = []; // bytes written by the board, not yet parsed as a command
    }
  }

  /** Queue bytes that the sensor starts sending at tMs. */
  emit(bytes, tMs) {
    if (this.fault("silent", tMs) || !this.isPowered()) return;
    let t = tMs;
    const garbage = this.fault("garbage", tMs);
    if (garbage) {
      const n = 1 + Math.floor(this.rng.next() * 8);
      for (let i = 0; i < n; i++) this.q.push({ at: (t += this.byteMs), byte: this.rng.byte() });
    }
    for (const b of bytes) this.q.push({ at: (t += this.byteMs), byte: b });
  }

  /** True when the RX buffer cannot take more: the ESP32 driver keeps the oldest bytes. */
  full() {
    return this.q.length >= this.rxbuf;
  }

  /** Subclasses: queue the unsolicited frames due in (fromMs, toMs], stopping when full(). */
  generate(_fromMs, _toMs) {}

  /** Subclasses: handle a command the board wrote; return the number of bytes consumed (0 = need more). */
  parse(_buf, _tMs) {
    return 0;
  }

  /** The core calls this when the firmware opens machine.UART: the RX buffer starts empty. */
  open(tMs) {
    this.sync(tMs);
    this.q = this.q.filter((e) => e.at > tMs);
  }

  sync(tMs) {
    if (tMs > this.genUntilMs) {
      // Generators stop once the RX buffer is full (full()): what the sensor sends after that
      // is lost anyway, so a day-long gap does not generate a day of frames.
      this.generate(this.genUntilMs, tMs);
      this.genUntilMs = tMs;
    }
  }

  uartWrite(bytes, tMs) {
    if (!this.isPowered()) return;
    for (const b of bytes) this.hostIn.push(b);
    const doneMs = tMs + bytes.length * this.byteMs; // the last byte reaches the sensor then
    this.sync(tMs);
    for (;;) {
      const used = this.parse(this.hostIn, doneMs);
      if (used <= 0) break;
      this.hostIn.splice(0, used);
    }
    if (this.hostIn.length > 64) this.hostIn.splice(0, this.hostIn.length - 64);
  }

  uartRead(maxBytes, tMs) {
    this.sync(tMs);
    let n = 0;
    while (n < this.q.length && this.q[n].at <= tMs) n++;
    if (n > this.rxbuf) {
      this.q.splice(this.rxbuf, n - this.rxbuf); // overflow: what came after the buffer filled is lost
      n = this.rxbuf;
    }
    const k = Math.min(n, maxBytes);
    const out = new Uint8Array(k);
    for (let i = 0; i < k; i++) out[i] = this.q[i].byte;
    this.q.splice(0, k);
    return out;
  }

  /** Bytes the board could read now (for UART.any()). */
  uartAny(tMs) {
    this.sync(tMs);
    let n = 0;
    while (n < this.q.length && this.q[n].at <= tMs) n++;
    return Math.min(n, this.rxbuf);
  }
}
