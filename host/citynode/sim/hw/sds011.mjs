// Nova SDS011 PM sensor on a UART, 9600 8N1 (Laser Dust Sensor Control Protocol V1.3).
// Data frame (10 B): AA C0 PM25L PM25H PM10L PM10H ID1 ID2 CHK AB, CHK = sum(bytes 2..7) & 0xFF,
// values in 0.1 ug/m3, one per second in active reporting mode.
// Command (19 B): AA B4 CMD d3..d14 IDL IDH CHK AB, CHK = sum(bytes 2..16) & 0xFF; replies AA C5 ...
import { UartDevice } from "./uart.mjs";
import { hashKeys, strHash } from "./rng.mjs";

export function sdsChecksum(frame, from, to) {
  let s = 0;
  for (let i = from; i <= to; i++) s += frame[i];
  return s & 0xff;
}

/**
 * Keys: pm25, pm10 curves (ug/m3), device_id (u16), reporting "active" | "query", asleep (false),
 * period_min (0 = continuous).
 */
export class SDS011 extends UartDevice {
  static baud = 9600;

  configure(cfg) {
    const first = this.pm25 === undefined;
    super.configure(cfg);
    this.pm25 = this.curve("pm25", 12);
    this.pm10 = this.curve("pm10", 20);
    if (first) {
      this.deviceId = cfg.device_id ?? hashKeys(this.ctx.seed, strHash(this.id)) & 0xffff;
      this.resetState(0);
    }
  }

  resetState(tMs) {
    this.asleep = this.cfg.asleep ?? false;
    this.queryMode = this.cfg.reporting === "query";
    this.periodMin = this.cfg.period_min ?? 0;
    this.phaseMs = tMs; // frames fall at phase + k * interval
  }

  onPower(on, tMs) {
    if (on) this.resetState(tMs);
  }

  intervalMs() {
    return this.periodMin > 0 ? this.periodMin * 60000 : 1000;
  }

  dataFrame(tMs) {
    const ts = this.valueTimeS(tMs);
    const enc = (v) => Math.max(0, Math.min(9999, Math.round(v * 10)));
    const p25 = enc(this.pm25(ts));
    const p10 = enc(Math.max(this.pm10(ts), this.pm25(ts)));
    const f = [0xaa, 0xc0, p25 & 0xff, p25 >> 8, p10 & 0xff, p10 >> 8, this.deviceId & 0xff, this.deviceId >> 8, 0, 0xab];
    f[8] = sdsChecksum(f, 2, 7);
    if (this.fault("bad_checksum", tMs)) f[8] ^= 0x5a;
    return f;
  }

  reply(cmd, b3, b4, b5, tMs) {
    const f = [0xaa, 0xc5, cmd, b3, b4, b5, this.deviceId & 0xff, this.deviceId >> 8, 0, 0xab];
    f[8] = sdsChecksum(f, 2, 7);
    if (this.fault("bad_checksum", tMs)) f[8] ^= 0x5a;
    this.emit(f, tMs + 5);
  }

  generate(fromMs, toMs) {
    if (this.asleep || this.queryMode) return;
    const iv = this.intervalMs();
    let k = Math.floor((fromMs - this.phaseMs) / iv) + 1;
    for (let t = this.phaseMs + k * iv; t <= toMs; t = this.phaseMs + ++k * iv) {
      if (this.full()) break;
      if (t > fromMs) this.emit(this.dataFrame(t), t);
    }
  }

  parse(buf, tMs) {
    const start = buf.indexOf(0xaa);
    if (start < 0) return buf.length;
    if (start > 0) return start;
    if (buf.length < 19) return 0;
    if (buf[1] !== 0xb4 || buf[18] !== 0xab || sdsChecksum(buf, 2, 16) !== buf[17]) return 1; // not a valid command: resync
    const id = buf[15] | (buf[16] << 8);
    if (id !== 0xffff && id !== this.deviceId) return 19;
    const cmd = buf[2];
    const set = buf[3] === 1;
    this.sync(tMs);
    if (this.asleep && cmd !== 6) return 19; // a sleeping sensor only listens for "work"
    switch (cmd) {
      case 2: // data reporting mode: d4 0 = active, 1 = query
        if (set) this.queryMode = buf[4] === 1;
        this.reply(2, buf[3], this.queryMode ? 1 : 0, 0, tMs);
        break;
      case 4: // query data
        this.emit(this.dataFrame(tMs), tMs + 5);
        break;
      case 5: // set device id (new id in d13, d14)
        this.deviceId = buf[13] | (buf[14] << 8);
        this.reply(5, 0, 0, 0, tMs);
        break;
      case 6: // sleep (d4 0) / work (d4 1)
        if (set) {
          const wake = buf[4] === 1;
          if (wake && this.asleep) this.phaseMs = tMs;
          this.asleep = !wake;
        }
        this.reply(6, buf[3], this.asleep ? 0 : 1, 0, tMs);
        break;
      case 7: // firmware version: year, month, day
        this.reply(7, 18, 11, 16, tMs);
        break;
      case 8: // working period: d4 0 = continuous, 1..30 minutes
        if (set) {
          this.periodMin = Math.min(30, buf[4]);
          this.phaseMs = tMs;
        }
        this.reply(8, buf[3], this.periodMin, 0, tMs);
        break;
      default:
        break;
    }
    return 19;
  }
}
