// Sensirion I2C sensors: SCD40/SCD41 (CO2, 0x62) and SHT4x (T/RH, 0x44).
// Facts from the datasheets: CRC-8 poly 0x31 init 0xFF over each 16-bit word; commands are
// big-endian 16-bit (SCD4x) or 8-bit (SHT4x); a read before the command has finished is
// NACKed; T = -45 + 175*S/65535 for both, RH = 100*S/65535 (SCD4x) or -6 + 125*S/65535 (SHT4x).
import { Device } from "./device.mjs";
import { hashKeys, strHash } from "./rng.mjs";

/** Sensirion CRC-8 (poly 0x31, init 0xFF, no reflection, no final xor). crc8([0xBE, 0xEF]) === 0x92. */
export function crc8(bytes, start = 0, len = bytes.length - start) {
  let crc = 0xff;
  for (let i = start; i < start + len; i++) {
    crc ^= bytes[i];
    for (let b = 0; b < 8; b++) crc = crc & 0x80 ? ((crc << 1) ^ 0x31) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
}

/** Words -> bytes, each word big-endian followed by its CRC (Sensirion's read format). */
export function wordsWithCrc(words) {
  const out = new Uint8Array(words.length * 3);
  words.forEach((w, i) => {
    out[3 * i] = (w >> 8) & 0xff;
    out[3 * i + 1] = w & 0xff;
    out[3 * i + 2] = crc8(out, 3 * i, 2);
  });
  return out;
}

const clampWord = (x) => Math.max(0, Math.min(65535, Math.round(x)));
export const tempToWord = (t) => clampWord(((t + 45) * 65535) / 175);

/** A Sensirion part: command handling state shared by SCD4x and SHT4x. */
class SensirionDevice extends Device {
  constructor(ctx, cfg) {
    super(ctx, cfg);
    this.reset(0);
  }

  reset(tMs) {
    this.busyUntilMs = tMs;
    this.pending = null; // {readyAtMs, bytes} for the next I2C read
  }

  onPower(on, tMs) {
    this.reset(tMs + this.powerUpMs);
  }

  serialWords(n) {
    const words = [];
    const base = this.cfg.serial !== undefined ? this.cfg.serial : hashKeys(this.ctx.seed, strHash(this.id));
    for (let i = 0; i < n; i++) words.push(hashKeys(base, i) & 0xffff);
    return words;
  }

  i2cRead(n, tMs) {
    if (tMs < this.busyUntilMs) return null;
    const p = this.pending;
    if (!p || tMs < p.readyAtMs || !p.bytes) return null;
    this.pending = null;
    const out = new Uint8Array(n).fill(0xff);
    out.set(p.bytes.subarray(0, Math.min(n, p.bytes.length)));
    return out;
  }
}

const SCD_CMD = {
  START_PERIODIC: 0x21b1,
  START_LP_PERIODIC: 0x21ac,
  READ_MEASUREMENT: 0xec05,
  STOP_PERIODIC: 0x3f86,
  DATA_READY: 0xe4b8,
  SERIAL: 0x3682,
  SINGLE_SHOT: 0x219d,
  SINGLE_SHOT_RHT: 0x2196,
  POWER_DOWN: 0x36e0,
  WAKE_UP: 0x36f6,
  REINIT: 0x3646,
  FACTORY_RESET: 0x3632,
  SELF_TEST: 0x3639,
  PERSIST: 0x3615,
  SET_T_OFFSET: 0x241d,
  GET_T_OFFSET: 0x2318,
  SET_ALTITUDE: 0x2427,
  GET_ALTITUDE: 0x2322,
  SET_PRESSURE: 0xe000,
  SET_ASC: 0x2416,
  GET_ASC: 0x2313,
};
// Commands the sensor accepts while a periodic measurement runs (datasheet 3.5); others are NACKed.
const SCD_PERIODIC_OK = new Set([SCD_CMD.READ_MEASUREMENT, SCD_CMD.DATA_READY, SCD_CMD.STOP_PERIODIC, SCD_CMD.SET_PRESSURE]);

/**
 * SCD40 / SCD41 at 0x62. Scenario keys: co2 (ppm), temperature (degC), humidity (%RH) curves;
 * variant "scd40" | "scd41" (type scd40/scd41 sets it).
 */
export class SCD4x extends SensirionDevice {
  static address = 0x62;
  powerUpMs = 30;

  configure(cfg) {
    super.configure(cfg);
    this.variant = cfg.type === "scd40" ? "scd40" : "scd41";
    this.co2 = this.curve("co2", 420);
    this.temp = this.curve("temperature", 21);
    this.rh = this.curve("humidity", 50);
  }

  reset(tMs) {
    super.reset(tMs);
    this.mode = "idle"; // idle | periodic | sleep
    this.periodStartMs = 0;
    this.intervalMs = 5000;
    this.consumedK = 0;
    this.single = null; // {doneMs, rhtOnly, consumed}
    this.tOffsetWord = Math.round((4 * 65535) / 175); // default offset 4 degC
    this.altitude = 0;
    this.asc = 1;
  }

  /** The latest measurement not yet read, as {tMs, rhtOnly}, or null. */
  newData(tMs) {
    if (this.mode === "periodic") {
      const k = Math.floor((tMs - this.periodStartMs) / this.intervalMs);
      if (k >= 1 && k > this.consumedK) return { tMs: this.periodStartMs + k * this.intervalMs, k, rhtOnly: false };
      return null;
    }
    if (this.single && !this.single.consumed && tMs >= this.single.doneMs) return { tMs: this.single.doneMs, rhtOnly: this.single.rhtOnly };
    return null;
  }

  consume(data) {
    if (data.k !== undefined) this.consumedK = data.k;
    else this.single.consumed = true;
  }

  measurementWords(tMs, rhtOnly) {
    const ts = this.valueTimeS(tMs);
    const offset = (175 * this.tOffsetWord) / 65535;
    const co2 = rhtOnly ? 0 : Math.max(0, Math.min(65535, Math.round(this.co2(ts))));
    const t = this.temp(ts) + 4 - offset; // the sensor compensates its self-heating with the 4 degC default
    const rh = Math.max(0, Math.min(100, this.rh(ts)));
    return [co2, tempToWord(t), clampWord((rh * 65535) / 100)];
  }

  i2cWrite(bytes, tMs) {
    if (bytes.length === 0) return this.mode !== "sleep" && tMs >= this.busyUntilMs; // address probe
    if (bytes.length < 2) return false;
    const cmd = (bytes[0] << 8) | bytes[1];
    if (this.mode === "sleep") {
      if (cmd === SCD_CMD.WAKE_UP) {
        this.mode = "idle";
        this.busyUntilMs = tMs + 30;
      }
      return false; // wake_up is not acknowledged (datasheet 3.10.3); everything else is NACKed asleep
    }
    if (tMs < this.busyUntilMs) return false;
    const args = [];
    if ((bytes.length - 2) % 3 !== 0) return false;
    for (let i = 2; i < bytes.length; i += 3) {
      if (crc8(bytes, i, 2) !== bytes[i + 2]) return false; // bad CRC: the command is refused
      args.push((bytes[i] << 8) | bytes[i + 1]);
    }
    if (this.mode === "periodic" && !SCD_PERIODIC_OK.has(cmd)) return false;
    const reply = (ms, words) => {
      this.pending = { readyAtMs: tMs + ms, bytes: words ? wordsWithCrc(words) : null };
      return true;
    };
    switch (cmd) {
      case SCD_CMD.START_PERIODIC:
      case SCD_CMD.START_LP_PERIODIC:
        this.mode = "periodic";
        this.periodStartMs = tMs;
        this.intervalMs = cmd === SCD_CMD.START_PERIODIC ? 5000 : 30000;
        this.consumedK = 0;
        this.single = null;
        return true;
      case SCD_CMD.STOP_PERIODIC:
        this.mode = "idle";
        this.busyUntilMs = tMs + 500;
        return true;
      case SCD_CMD.READ_MEASUREMENT: {
        const data = this.newData(tMs);
        if (!data) return reply(1, null); // no new data: the read header is NACKed (datasheet 3.5.2)
        this.consume(data);
        return reply(1, this.measurementWords(data.tMs, data.rhtOnly));
      }
      case SCD_CMD.DATA_READY:
        return reply(1, [this.newData(tMs) ? 0x8006 : 0x8000]);
      case SCD_CMD.SERIAL:
        return reply(1, this.serialWords(3));
      case SCD_CMD.SINGLE_SHOT:
      case SCD_CMD.SINGLE_SHOT_RHT: {
        if (this.variant !== "scd41") return false; // SCD40 has no single shot
        const ms = cmd === SCD_CMD.SINGLE_SHOT ? 5000 : 50;
        this.single = { doneMs: tMs + ms, rhtOnly: cmd === SCD_CMD.SINGLE_SHOT_RHT, consumed: false };
        this.busyUntilMs = tMs + ms; // the sensor does not answer during the measurement
        this.pending = null;
        return true;
      }
      case SCD_CMD.POWER_DOWN:
        this.mode = "sleep";
        this.pending = null;
        return true;
      case SCD_CMD.WAKE_UP:
        return false; // already awake: not acknowledged either
      case SCD_CMD.REINIT:
        this.busyUntilMs = tMs + 30;
        return true;
      case SCD_CMD.FACTORY_RESET:
        this.reset(tMs);
        this.busyUntilMs = tMs + 1200;
        return true;
      case SCD_CMD.SELF_TEST:
        this.busyUntilMs = tMs + 10000;
        return reply(10000, [0]);
      case SCD_CMD.PERSIST:
        this.busyUntilMs = tMs + 800;
        return true;
      case SCD_CMD.SET_T_OFFSET:
        if (args.length !== 1) return false;
        this.tOffsetWord = args[0];
        return true;
      case SCD_CMD.GET_T_OFFSET:
        return reply(1, [this.tOffsetWord]);
      case SCD_CMD.SET_ALTITUDE:
        if (args.length !== 1) return false;
        this.altitude = args[0];
        return true;
      case SCD_CMD.GET_ALTITUDE:
        return reply(1, [this.altitude]);
      case SCD_CMD.SET_PRESSURE:
        return args.length === 1;
      case SCD_CMD.SET_ASC:
        if (args.length !== 1) return false;
        this.asc = args[0];
        return true;
      case SCD_CMD.GET_ASC:
        return reply(1, [this.asc]);
      default:
        return false;
    }
  }
}

// SHT4x command -> duration (ms, datasheet max). Heater commands measure after the pulse.
const SHT_MEASURE = { 0xfd: 8.3, 0xf6: 4.5, 0xe0: 1.7, 0x39: 1100, 0x32: 110, 0x2f: 1100, 0x24: 110, 0x1e: 1100, 0x15: 110 };

/** SHT40/41/45 at 0x44 (0x45/0x46 variants via "address"). Scenario keys: temperature, humidity curves. */
export class SHT4x extends SensirionDevice {
  static address = 0x44;
  powerUpMs = 1;

  configure(cfg) {
    super.configure(cfg);
    this.temp = this.curve("temperature", 21);
    this.rh = this.curve("humidity", 50);
  }

  i2cWrite(bytes, tMs) {
    if (tMs < this.busyUntilMs) return false; // busy measuring: the address is not acknowledged
    if (bytes.length === 0) return true;
    if (bytes.length !== 1) return false;
    const cmd = bytes[0];
    if (SHT_MEASURE[cmd] !== undefined) {
      const ms = SHT_MEASURE[cmd];
      const ts = this.valueTimeS(tMs);
      const t = this.temp(ts);
      const rh = this.rh(ts);
      this.busyUntilMs = tMs + ms;
      this.pending = { readyAtMs: tMs + ms, bytes: wordsWithCrc([tempToWord(t), clampWord(((rh + 6) * 65535) / 125)]) };
      return true;
    }
    if (cmd === 0x89) {
      this.pending = { readyAtMs: tMs + 1, bytes: wordsWithCrc(this.serialWords(2)) };
      return true;
    }
    if (cmd === 0x94) {
      this.reset(tMs + 1);
      return true;
    }
    return false;
  }
}
