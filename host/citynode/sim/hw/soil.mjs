// Soil moisture: the capacitive probe v1.2 on an ADC pin, and the Adafruit STEMMA soil sensor
// (seesaw, I2C 0x36) for soil temperature. Both follow one moisture model (a curve, or drying
// between irrigation events) expressed as a relative moisture 0 (probe in dry air) .. 1 (in water).
import { Device } from "./device.mjs";
import { gauss, strHash } from "./rng.mjs";
import { parseDuration } from "./curve.mjs";

/** Relative moisture at scenario time tS for a soil device (shared by both probe kinds). */
function moistureAt(dev, tS) {
  const irrigations = dev.ctx.events.filter(
    (e) => e.type === "irrigation" && (e.device === undefined || e.device === dev.id) && e.tS <= tS,
  );
  const drying = dev.cfg.drying;
  if (!drying && irrigations.length === 0) return clamp01(dev.moisture(tS));
  const tauS = parseDuration(drying?.tau ?? "72h", `${dev.id} drying.tau`);
  const floor = drying?.floor ?? 0.1;
  let t0 = 0;
  let m0 = dev.moisture(0);
  for (const e of irrigations) {
    const before = floor + (m0 - floor) * Math.exp(-(e.tS - t0) / tauS);
    m0 = e.to !== undefined ? e.to : before + (e.amount ?? 0.3);
    t0 = e.tS;
  }
  return clamp01(floor + (m0 - floor) * Math.exp(-(tS - t0) / tauS));
}

const clamp01 = (x) => Math.max(0, Math.min(1, x));

/**
 * Capacitive soil probe v1.2 (NE555/TLC555 + RC): output voltage falls with moisture.
 * Keys: pin (default board soil_adc), dry_mv (2600), wet_mv (1200), moisture curve (0..1),
 * drying {tau, floor}, temperature curve + temp_coeff_mv_per_c, noise_mv (4), settle_ms (100).
 * Powered from the board's sensor_power pin by default: about 0 V when off.
 */
export class SoilProbe extends Device {
  static defaultPower = "sensor_power";

  configure(cfg) {
    super.configure(cfg);
    this.pin = cfg.pin ?? this.ctx.board.soil_adc;
    this.dryMv = this.num("dry_mv", 2600);
    this.wetMv = this.num("wet_mv", 1200);
    this.moisture = this.curve("moisture", 0.5);
    this.temp = this.curve("temperature", 20);
    this.tempCoeff = this.num("temp_coeff_mv_per_c", 0);
    this.noiseMv = this.num("noise_mv", 4);
    this.settleMs = this.num("settle_ms", 100);
    this.reads = 0;
  }

  moistureAt(tS) {
    return moistureAt(this, tS);
  }

  /** Output voltage (uV) the model would give at tMs when fully settled, without noise. */
  idealMicrovolts(tMs) {
    const ts = this.valueTimeS(tMs);
    const m = moistureAt(this, ts);
    const mv = this.dryMv + (this.wetMv - this.dryMv) * m + this.tempCoeff * (this.temp(ts) - 20);
    return mv * 1000;
  }

  microvolts(tMs) {
    if (this.fault("disconnected", tMs) || this.fault("silent", tMs)) return null;
    if (!this.isPowered()) return Math.max(0, Math.round(2000 * Math.abs(gauss(this.ctx.seed, strHash(this.id), tMs, this.reads++))));
    let uv = this.idealMicrovolts(tMs);
    const on = this.poweredForMs(tMs);
    if (this.settleMs > 0) uv *= 1 - Math.exp(-(4 * on) / this.settleMs);
    uv += this.noiseMv * 1000 * gauss(this.ctx.seed, strHash(this.id), tMs, this.reads++);
    return Math.max(0, Math.round(uv));
  }
}

/**
 * Adafruit STEMMA soil sensor (seesaw on a SAMD09, I2C 0x36): capacitance via module 0x0F
 * function 0x10 (u16 big-endian, ~200 dry .. ~2000 wet), temperature via module 0x00 function
 * 0x04 (int32 big-endian / 65536 degC), hardware id module 0x00 function 0x01 = 0x55.
 * Keys: moisture/drying as the probe, cap_dry (300), cap_wet (1800), soil_temperature curve.
 */
export class StemmaSoil extends Device {
  static address = 0x36;
  static defaultPower = "sensor_power";

  configure(cfg) {
    super.configure(cfg);
    this.moisture = this.curve("moisture", 0.5);
    this.soilTemp = this.curve("soil_temperature", 15);
    this.capDry = this.num("cap_dry", 300);
    this.capWet = this.num("cap_wet", 1800);
    this.pending = null;
  }

  onPower() {
    this.pending = null;
  }

  i2cWrite(bytes, tMs) {
    if (bytes.length === 0) return true;
    if (bytes.length < 2) return false;
    const ts = this.valueTimeS(tMs);
    const [mod, fn] = bytes;
    let out = null;
    if (mod === 0x0f && fn === 0x10) {
      const m = moistureAt(this, ts);
      const cap = Math.round(this.capDry + (this.capWet - this.capDry) * m + 8 * gauss(this.ctx.seed, strHash(this.id), tMs));
      out = new Uint8Array([(cap >> 8) & 0xff, cap & 0xff]);
    } else if (mod === 0x00 && fn === 0x04) {
      const raw = Math.round(this.soilTemp(ts) * 65536) | 0;
      out = new Uint8Array([(raw >>> 24) & 0xff, (raw >>> 16) & 0xff, (raw >>> 8) & 0xff, raw & 0xff]);
    } else if (mod === 0x00 && fn === 0x01) {
      out = new Uint8Array([0x55]);
    }
    this.pending = out ? { readyAtMs: tMs + 1, bytes: out } : null;
    return true;
  }

  i2cRead(n, tMs) {
    const p = this.pending;
    if (!p || tMs < p.readyAtMs) return null;
    this.pending = null;
    const out = new Uint8Array(n).fill(0xff);
    out.set(p.bytes.subarray(0, Math.min(n, p.bytes.length)));
    return out;
  }
}
