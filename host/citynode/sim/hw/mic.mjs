// I2S MEMS microphone (INMP441 / ICS-43434): 24-bit two's complement, MSB first, left-justified in
// 32-bit slots; MicroPython's I2S RX with bits=32 hands the firmware little-endian int32 words.
// Sensitivity -26 dBFS at 94 dB SPL (1 Pa RMS, 1 kHz). Sound is described in pascals and only the
// samples the firmware reads are generated (a free-running stream with a DMA buffer of ibuf bytes).
import { Device } from "./device.mjs";
import { makeCurve, parseDuration } from "./curve.mjs";
import { mix, strHash, uniform } from "./rng.mjs";

export const FULL_SCALE = 2 ** 23 - 1;
const P_REF = 20e-6;
export const splToPa = (db) => P_REF * 10 ** (db / 20);

// IEC 61672-1 A-weighting (analog), normalised to 0 dB at 1 kHz.
const F1 = 20.598997;
const F2 = 107.65265;
const F3 = 737.86223;
const F4 = 12194.217;
function aWeightPowerRaw(f) {
  const f2 = f * f;
  const num = F4 ** 4 * f2 * f2;
  const den = (f2 + F1 * F1) * Math.sqrt((f2 + F2 * F2) * (f2 + F3 * F3)) * (f2 + F4 * F4);
  return (num / den) ** 2;
}
const A1K = aWeightPowerRaw(1000);
export const aWeightPower = (f) => aWeightPowerRaw(f) / A1K;

function fftPower(re) {
  // In-place radix-2 FFT of a real signal (length a power of 2); returns |X[k]|^2 for k <= n/2.
  const n = re.length;
  const im = new Float64Array(n);
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) [re[i], re[j]] = [re[j], re[i]];
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = (-2 * Math.PI) / len;
    const wr = Math.cos(ang);
    const wi = Math.sin(ang);
    for (let i = 0; i < n; i += len) {
      let cr = 1;
      let ci = 0;
      for (let k = 0; k < len / 2; k++) {
        const a = i + k;
        const b = a + len / 2;
        const xr = re[b] * cr - im[b] * ci;
        const xi = re[b] * ci + im[b] * cr;
        re[b] = re[a] - xr;
        im[b] = im[a] - xi;
        re[a] += xr;
        im[a] += xi;
        [cr, ci] = [cr * wr - ci * wi, cr * wi + ci * wr];
      }
    }
  }
  const p = new Float64Array(n / 2 + 1);
  for (let k = 0; k <= n / 2; k++) p[k] = re[k] * re[k] + im[k] * im[k];
  return p;
}

/** Unit-variance white noise from a per-sample hash (deterministic by stream position). */
const white = (key, k) => (mix(key, k) / 4294967296 - 0.5) * 3.4641016151377544; // sqrt(12)

/** Paul Kellet's pink filter; the gain making it unit RMS is measured once. */
class Pink {
  constructor() {
    this.b = new Float64Array(7);
  }
  reset() {
    this.b.fill(0);
  }
  next(w) {
    const b = this.b;
    b[0] = 0.99886 * b[0] + w * 0.0555179;
    b[1] = 0.99332 * b[1] + w * 0.0750759;
    b[2] = 0.969 * b[2] + w * 0.153852;
    b[3] = 0.8665 * b[3] + w * 0.3104856;
    b[4] = 0.55 * b[4] + w * 0.5329522;
    b[5] = -0.7616 * b[5] - w * 0.016898;
    const out = b[0] + b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + w * 0.5362;
    b[6] = w * 0.115926;
    return out;
  }
}

const calib = new Map();
/** For a noise colour at a rate: {gain: makes RMS 1, aRatio: A-weighted power / unweighted power}. */
function noiseCalibration(color, rate) {
  const k = `${color}/${rate}`;
  if (calib.has(k)) return calib.get(k);
  const n = 1 << 16;
  const x = new Float64Array(n);
  const pink = new Pink();
  const key = strHash(`calibration/${color}`);
  for (let i = -4096; i < n; i++) {
    const w = white(key, i + 4096);
    const v = color === "pink" ? pink.next(w) : w;
    if (i >= 0) x[i] = v;
  }
  let ss = 0;
  for (let i = 0; i < n; i++) ss += x[i] * x[i];
  const gain = 1 / Math.sqrt(ss / n);
  const p = fftPower(x);
  let tot = 0;
  let wa = 0;
  for (let i = 1; i <= n / 2; i++) {
    tot += p[i];
    wa += p[i] * aWeightPower((i * rate) / n);
  }
  const c = { gain, aRatio: wa / tot };
  calib.set(k, c);
  return c;
}

/** A signal component: adds its pressure (Pa) for frames [k0, k0+n) to out. */
class Tone {
  constructor(spec, opts) {
    this.freq = spec.freq ?? 1000;
    this.level = makeCurve(spec.db_spl ?? 94, { ...opts, key: `${opts.key}/db_spl` });
    this.phase = ((spec.phase_deg ?? 0) * Math.PI) / 180;
  }
  add(out, k0, n, rate, tS) {
    const amp = splToPa(this.level(tS)) * Math.SQRT2;
    const f = this.freq;
    const c = (2 * Math.PI) / rate;
    for (let i = 0; i < n; i++) out[i] += amp * Math.sin(c * (((k0 + i) * f) % rate) + this.phase);
  }
}

class Noise {
  constructor(color, levelFn, weighted, key, rate) {
    if (!["white", "pink"].includes(color)) throw new Error(`${key}: color must be "white" or "pink"`);
    this.color = color;
    this.levelFn = levelFn; // tS -> dB (SPL, or dB(A) when weighted)
    this.key = strHash(key);
    this.pink = new Pink();
    this.nextK = null;
    const c = noiseCalibration(color, rate);
    this.gain = c.gain / (weighted ? Math.sqrt(c.aRatio) : 1);
  }
  add(out, k0, n, _rate, tS) {
    if (this.nextK !== k0) {
      this.pink.reset(); // the stream jumped: let the filter settle from a short run-in
      if (this.color === "pink") for (let k = k0 - 2048; k < k0; k++) this.pink.next(white(this.key, k));
    }
    const db = this.levelFn(tS);
    if (db === -Infinity) {
      this.nextK = k0 + n;
      for (let i = 0; i < n; i++) if (this.color === "pink") this.pink.next(white(this.key, k0 + i));
      return;
    }
    const g = this.gain * splToPa(db);
    if (this.color === "pink") for (let i = 0; i < n; i++) out[i] += g * this.pink.next(white(this.key, k0 + i));
    else for (let i = 0; i < n; i++) out[i] += g * white(this.key, k0 + i);
    this.nextK = k0 + n;
  }
}

/** Road traffic: car pass-bys (intensity ~ 1/(1 + ((t - t0)/tau)^2)) over a background, in dB(A). */
class Traffic {
  constructor(spec, opts) {
    this.seed = opts.seed;
    this.key = strHash(opts.key);
    this.background = makeCurve(spec.background_dba ?? 45, { ...opts, key: `${opts.key}/background` });
    this.rate = makeCurve(spec.rate_per_hour ?? 0, { ...opts, key: `${opts.key}/rate` });
    this.peak = spec.peak_dba ?? [68, 80];
    this.duration = spec.duration_s ?? 6;
    this.fixed = (spec.events ?? []).map((e) => ({
      t: parseDuration(e.t, `${opts.key} event t`),
      peak: e.peak_dba ?? 75,
      tau: (e.duration_s ?? this.duration) / 2,
    }));
    this.slots = new Map();
  }
  passes(hour) {
    if (this.slots.has(hour)) return this.slots.get(hour);
    const lambda = Math.max(0, this.rate(hour * 3600 + 1800));
    // Poisson count by inversion, then uniform times and peaks: all from hashes of (seed, hour).
    let n = 0;
    let p = Math.exp(-lambda);
    let c = p;
    const u = uniform(this.seed, this.key, hour, -1);
    while (u > c && n < 10000) {
      n++;
      p *= lambda / n;
      c += p;
    }
    const list = [];
    for (let i = 0; i < n; i++) {
      const [lo, hi] = this.peak;
      list.push({
        t: hour * 3600 + 3600 * uniform(this.seed, this.key, hour, i, 1),
        peak: lo + (hi - lo) * uniform(this.seed, this.key, hour, i, 2),
        tau: (this.duration / 2) * (0.7 + 0.6 * uniform(this.seed, this.key, hour, i, 3)),
      });
    }
    if (this.slots.size > 64) this.slots.clear();
    this.slots.set(hour, list);
    return list;
  }
  dba(tS) {
    let intensity = 10 ** (this.background(tS) / 10);
    const h = Math.floor(tS / 3600);
    const all = [...this.fixed, ...this.passes(h - 1), ...this.passes(h), ...this.passes(h + 1)];
    for (const e of all) {
      const x = (tS - e.t) / e.tau;
      if (Math.abs(x) < 200) intensity += 10 ** (e.peak / 10) / (1 + x * x);
    }
    return 10 * Math.log10(intensity);
  }
}

const NOISE_FLOOR_DBA = { inmp441: 33, ics43434: 29 }; // 94 dB - SNR (61 / 65 dBA)

/**
 * Keys: model "inmp441" | "ics43434", sensitivity_dbfs (-26), dbfs_convention "aes17" (the default, as the
 * datasheets: 0 dBFS = full-scale sine, so a 94 dB SPL sine has peak 10^(sens/20) * full scale) | "rms" (94 dB SPL sine
 * RMS = 10^(sens/20) * full scale, 3.01 dB louder),
 * self_noise_dba (model's 94 - SNR; 0 to switch off), channel "left" | "right", ibuf (bytes, 40000),
 * signals: [{kind: tone|noise|levels|traffic, ...}] (see scenarios/README.md).
 */
export class Microphone extends Device {
  configure(cfg) {
    super.configure(cfg);
    this.i2sId = cfg.i2s ?? this.ctx.board.i2s?.id;
    this.model = cfg.model ?? "inmp441";
    const sens = this.num("sensitivity_dbfs", -26);
    const conv = cfg.dbfs_convention ?? "aes17";
    if (!["rms", "aes17"].includes(conv)) throw new Error(`${this.id}: dbfs_convention must be "rms" or "aes17"`);
    this.countsPerPa = 10 ** (sens / 20) * FULL_SCALE * (conv === "aes17" ? Math.SQRT1_2 : 1);
    this.channel = cfg.channel ?? "left";
    this.rate = this.num("rate", 48000);
    this.ibuf = this.num("ibuf", 40000);
    const opts = (i) => ({ seed: this.ctx.seed, key: `${this.id}/signals[${i}]`, startS: this.ctx.startS });
    this.components = (cfg.signals ?? []).map((s, i) => {
      switch (s.kind) {
        case "tone":
          return new Tone(s, opts(i));
        case "noise":
          return new Noise(s.color ?? "pink", makeCurve(s.db_spl ?? 60, { ...opts(i), key: `${opts(i).key}/db` }), false, opts(i).key, this.rate);
        case "levels":
          return new Noise(s.color ?? "pink", makeCurve(s.dba ?? 55, { ...opts(i), key: `${opts(i).key}/dba` }), true, opts(i).key, this.rate);
        case "traffic": {
          const t = new Traffic(s, opts(i));
          return new Noise("pink", (tS) => t.dba(tS), true, opts(i).key, this.rate);
        }
        default:
          throw new Error(`${this.id}: signals[${i}].kind must be tone, noise, levels or traffic`);
      }
    });
    const floor = this.num("self_noise_dba", NOISE_FLOOR_DBA[this.model] ?? 33);
    if (floor > 0) this.components.push(new Noise("white", () => floor, true, `${this.id}/self_noise`, this.rate));
    this.pos = this.pos ?? null; // next frame of the stream the firmware will get
  }

  /** The firmware's readinto(): nBytes of the stream in `format` ({bits: 16|32, format: "mono"|"stereo"}). */
  read(nBytes, format = {}, tMs = this.nowMs()) {
    const bits = format.bits ?? 32;
    const stereo = format.format === "stereo" || format.format === 1; // 1 = MicroPython's I2S.STEREO
    const rate = format.rate ?? this.rate;
    if (rate !== this.rate) {
      this.rate = rate;
      this.configure(this.cfg);
    }
    const bytesPerFrame = (bits / 8) * (stereo ? 2 : 1);
    const frames = Math.floor(nBytes / bytesPerFrame);
    const out = new Uint8Array(nBytes);
    if (frames === 0) return out;
    const ibuf = format.ibuf ?? this.ibuf;
    const nowFrame = Math.floor((tMs * rate) / 1000);
    const bufFrames = Math.floor(ibuf / bytesPerFrame);
    if (this.pos === null || this.pos < nowFrame - bufFrames) this.pos = Math.max(0, nowFrame - bufFrames); // overrun: old audio lost
    const silent = !this.isPowered() || this.fault("silent", tMs) || this.fault("disconnected", tMs);
    const pa = this.samples(this.pos, frames, silent);
    this.pos += frames;
    const dv = new DataView(out.buffer);
    const slotBytes = bits / 8;
    const micSlot = stereo && this.channel === "right" ? 1 : 0;
    for (let i = 0; i < frames; i++) {
      let s = Math.round(pa[i] * this.countsPerPa);
      s = s > FULL_SCALE ? FULL_SCALE : s < -FULL_SCALE - 1 ? -FULL_SCALE - 1 : s;
      const off = i * bytesPerFrame + micSlot * slotBytes;
      if (bits === 32) dv.setInt32(off, s * 256, true);
      else dv.setInt16(off, s >> 8, true);
    }
    return out;
  }

  /** Sound pressure (Pa) for frames [k0, k0+n), computed in 10 ms blocks (levels are per block). */
  samples(k0, n, silent) {
    const out = new Float64Array(n);
    if (silent) return out;
    const block = Math.max(1, Math.floor(this.rate / 100));
    for (let i = 0; i < n; i += block) {
      const m = Math.min(block, n - i);
      const view = out.subarray(i, i + m);
      const tS = this.valueTimeS(((k0 + i) * 1000) / this.rate);
      for (const c of this.components) c.add(view, k0 + i, m, this.rate, tS);
    }
    return out;
  }
}

