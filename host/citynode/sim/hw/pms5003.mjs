// Plantower PMS5003 (and PMS7003, same protocol) on a UART, 9600 8N1.
// Frame (32 B): 42 4D 00 1C, 13 big-endian u16 (PM1.0/2.5/10 CF=1, PM1.0/2.5/10 atmospheric,
// particles > 0.3/0.5/1.0/2.5/5/10 um per 0.1 L, reserved), u16 checksum = sum of bytes 0..29.
// Commands (7 B): 42 4D CMD DATAH DATAL LRCH LRCL, LRC = sum of the first 5 bytes:
// E1 00 passive / E1 01 active, E2 read (passive), E4 00 sleep / E4 01 wake.
// The 8-byte acknowledgements (42 4D 00 04 CMD DATAL sum16) to E1 and E4 00 are what real
// sensors send (not in the datasheet); wake is not acknowledged (the sensor restarts).
import { UartDevice } from "./uart.mjs";

const sum16 = (bytes, n) => {
  let s = 0;
  for (let i = 0; i < n; i++) s += bytes[i];
  return s & 0xffff;
};

/**
 * Keys: pm1, pm25, pm10 curves (atmospheric ug/m3), interval_ms (1000, active-mode frame period),
 * warmup_s (30: after power-on or wake, values are 0 for the first third, then unstable), mode
 * "active" | "passive".
 */
export class PMS5003 extends UartDevice {
  static baud = 9600;

  configure(cfg) {
    const first = this.pm25 === undefined;
    super.configure(cfg);
    this.pm1 = this.curve("pm1", 8);
    this.pm25 = this.curve("pm25", 12);
    this.pm10 = this.curve("pm10", 20);
    this.intervalMs = this.num("interval_ms", 1000);
    this.warmupMs = this.num("warmup_s", 30) * 1000;
    if (first) this.wake(-this.warmupMs, cfg.mode === "passive");
  }

  wake(tMs, passive = false) {
    this.asleep = false;
    this.passive = passive;
    this.wakeMs = tMs;
  }

  onPower(on, tMs) {
    if (on) this.wake(tMs, this.cfg.mode === "passive");
  }

  values(tMs) {
    const ts = this.valueTimeS(tMs);
    const since = tMs - this.wakeMs;
    let k = 1;
    if (since < this.warmupMs / 3) k = 0;
    else if (since < this.warmupMs) k = 0.4 + 1.2 * this.rng.next(); // fan still settling: unstable
    const pm1 = Math.max(0, this.pm1(ts)) * k;
    const pm25 = Math.max(pm1, this.pm25(ts) * k);
    const pm10 = Math.max(pm25, this.pm10(ts) * k);
    // CF=1 values equal atmospheric ones at low concentration and read higher above ~30 ug/m3.
    const cf = (x) => x * (x > 30 ? Math.min(1.5, 1 + (x - 30) / 100) : 1);
    const n03 = 150 * pm1 + 40 * pm25;
    const counts = [n03, n03 * 0.3, n03 * 0.06 + 2 * pm10, 2 * (pm10 - pm25) + pm25 * 0.5, 0.4 * (pm10 - pm25), 0.1 * (pm10 - pm25)];
    return [cf(pm1), cf(pm25), cf(pm10), pm1, pm25, pm10, ...counts, 0].map((v) => Math.max(0, Math.min(65535, Math.round(v))));
  }

  frame(tMs) {
    const f = new Uint8Array(32);
    f.set([0x42, 0x4d, 0x00, 0x1c]);
    this.values(tMs).forEach((v, i) => {
      f[4 + 2 * i] = v >> 8;
      f[5 + 2 * i] = v & 0xff;
    });
    let s = sum16(f, 30);
    if (this.fault("bad_checksum", tMs)) s ^= 0x5a5a;
    f[30] = s >> 8;
    f[31] = s & 0xff;
    return f;
  }

  ack(cmd, data, tMs) {
    const a = [0x42, 0x4d, 0x00, 0x04, cmd, data, 0, 0];
    const s = sum16(a, 6);
    a[6] = s >> 8;
    a[7] = s & 0xff;
    this.emit(a, tMs + 5);
  }

  generate(fromMs, toMs) {
    if (this.asleep || this.passive) return;
    const first = this.wakeMs + 2500; // the first frame comes once the fan runs
    const iv = this.intervalMs;
    let k = Math.max(0, Math.floor((fromMs - first) / iv));
    for (let t = first + k * iv; t <= toMs; t = first + ++k * iv) {
      if (this.full()) break;
      if (t > fromMs) this.emit(this.frame(t), t);
    }
  }

  parse(buf, tMs) {
    const start = buf.indexOf(0x42);
    if (start < 0) return buf.length;
    if (start > 0) return start;
    if (buf.length < 7) return 0;
    if (buf[1] !== 0x4d || ((buf[5] << 8) | buf[6]) !== sum16(buf, 5)) return 1;
    const [cmd, , data] = [buf[2], buf[3], buf[4]];
    this.sync(tMs);
    if (this.asleep) {
      if (cmd === 0xe4 && data === 1) this.wake(tMs, this.passive);
      return 7;
    }
    if (cmd === 0xe1) {
      this.passive = data === 0;
      this.ack(cmd, data, tMs);
    } else if (cmd === 0xe2) {
      if (this.passive) this.emit(this.frame(tMs), tMs + 5);
    } else if (cmd === 0xe4 && data === 0) {
      this.ack(cmd, data, tMs);
      this.asleep = true;
    }
    return 7;
  }
}
