// Magnetometers under a parking bay: QMC5883L (0x0D) and LIS3MDL (0x1C).
// The field is the Earth's (a baseline in the sensor's axes, mG) plus a slow temperature drift,
// plus, while a car stands in the bay, its signature (a few hundred mG, different per car); a car
// in the neighbouring bay adds a smaller deviation. Arrivals and departures come from the
// scenario's events and ramp over a few seconds (the car manoeuvres).
import { Device } from "./device.mjs";
import { gauss, strHash, uniform } from "./rng.mjs";

class Magnetometer extends Device {
  static noiseMg = 2;

  configure(cfg) {
    super.configure(cfg);
    this.baseline = cfg.baseline_mg ?? [180, -120, 410];
    this.drift = cfg.temp_drift_mg_per_c ?? [0.5, -0.3, 0.8];
    this.temp = this.curve("temperature", { value: 15, daily: { amplitude: 8, peak_hour: 15 } });
    this.noiseMg = this.num("noise_mg", this.constructor.noiseMg);
    this.carMg = this.num("car_magnitude_mg", 300);
    this.neighbourFactor = this.num("neighbour_factor", 0.15);
    this.rampS = this.num("ramp_s", 3);
    this.stays = this.buildStays();
    this.samplesTaken = this.samplesTaken ?? 0;
    if (!this.regs) this.resetRegs();
  }

  /** Cars present over time: [{fromS, toS, sig: [x,y,z] mG}] from car_arrive / car_leave events. */
  buildStays() {
    const open = new Map();
    const stays = [];
    const events = this.ctx.events.filter(
      (e) => (e.type === "car_arrive" || e.type === "car_leave") && (e.device === undefined || e.device === this.id),
    );
    let n = 0;
    for (const e of events) {
      const bay = e.bay ?? "own";
      if (!["own", "neighbour"].includes(bay)) throw new Error(`event at ${e.tS} s: bay must be "own" or "neighbour"`);
      const car = e.car ?? `${bay}#${e.type === "car_arrive" ? n++ : n - 1}`;
      const key = `${bay}/${car}`;
      if (e.type === "car_arrive") {
        let sig = e.signature_mg;
        if (!sig) {
          // A car's signature: random direction, magnitude around car_magnitude_mg (0.5x .. 1.5x).
          const h = strHash(String(car));
          const mag = this.carMg * (0.5 + uniform(this.ctx.seed, h, 9));
          const v = [gauss(this.ctx.seed, h, 1), gauss(this.ctx.seed, h, 2), gauss(this.ctx.seed, h, 3)];
          const norm = Math.hypot(...v) || 1;
          sig = v.map((c) => (c / norm) * mag);
          if (bay === "neighbour") sig = sig.map((c) => c * this.neighbourFactor);
        }
        const stay = { fromS: e.tS, toS: Infinity, sig };
        open.set(key, stay);
        stays.push(stay);
      } else {
        const stay = open.get(key) ?? [...open.entries()].reverse().find(([k]) => k.startsWith(`${bay}/`))?.[1];
        if (stay) {
          stay.toS = e.tS;
          for (const [k, v] of open) if (v === stay) open.delete(k);
        }
      }
    }
    return stays;
  }

  /** Field (mG) at scenario time tS, without sensor noise. */
  fieldMg(tS) {
    const dT = this.temp(tS) - 15;
    const f = this.baseline.map((b, i) => b + this.drift[i] * dT);
    for (const s of this.stays) {
      if (tS < s.fromS || tS >= s.toS + this.rampS) continue;
      const k = Math.min(1, (tS - s.fromS) / this.rampS, (s.toS + this.rampS - tS) / this.rampS);
      for (let i = 0; i < 3; i++) f[i] += s.sig[i] * Math.max(0, k);
    }
    return f;
  }

  /** One measurement (mG with noise) as the sensor takes it at tMs. */
  measure(tMs) {
    const f = this.fieldMg(this.valueTimeS(tMs));
    const h = strHash(this.id);
    const n = this.samplesTaken++;
    return f.map((v, i) => v + this.noiseMg * gauss(this.ctx.seed, h, tMs, n, i));
  }

  onPower(on) {
    if (on) this.resetRegs();
  }

  i2cWrite(bytes, tMs) {
    if (bytes.length === 0) return true;
    this.setPointer(bytes[0]);
    for (let i = 1; i < bytes.length; i++) this.writeReg(this.nextAddr(), bytes[i], tMs);
    return true;
  }

  i2cRead(n, tMs) {
    this.update(tMs);
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.readReg(this.nextAddr(), tMs);
    this.afterRead(tMs);
    return out;
  }

  afterRead() {}
}

const int16 = (x) => Math.max(-32768, Math.min(32767, Math.round(x)));

/**
 * QMC5883L: X/Y/Z int16 little-endian at 0x00-0x05, status 0x06 (DRDY bit 0, OVL bit 1, DOR bit 2),
 * temperature 0x07/0x08 (100 LSB/degC, uncalibrated offset), control 0x09 (mode, ODR, range, OSR),
 * 0x0A (soft reset bit 7, pointer roll-over bit 6), set/reset period 0x0B, chip id 0x0D = 0xFF.
 * 12000 LSB/G at 2 G, 3000 LSB/G at 8 G.
 */
export class QMC5883L extends Magnetometer {
  static address = 0x0d;
  static noiseMg = 2;

  resetRegs() {
    this.regs = new Uint8Array(16);
    this.regs[0x0c] = 0x01;
    this.regs[0x0d] = 0xff;
    this.ptr = 0;
    this.modeStartMs = 0;
    this.lastK = -1; // last sample index latched into the data registers
    this.readK = -1; // last sample index the board read
  }

  setPointer(p) {
    this.ptr = p;
  }

  nextAddr() {
    const a = this.ptr;
    this.ptr = this.regs[0x0a] & 0x40 && a === 0x06 ? 0x00 : (a + 1) & 0xff;
    return a;
  }

  odrHz() {
    return [10, 50, 100, 200][(this.regs[0x09] >> 2) & 3];
  }

  lsbPerG() {
    return (this.regs[0x09] >> 4) & 3 ? 3000 : 12000;
  }

  writeReg(a, v, tMs) {
    if (a === 0x0a && v & 0x80) {
      this.resetRegs();
      return;
    }
    if (a === 0x09 && (v & 3) === 1 && (this.regs[0x09] & 3) !== 1) this.modeStartMs = tMs;
    if (a >= 0x09 && a <= 0x0b) this.regs[a] = v;
  }

  update(tMs) {
    if ((this.regs[0x09] & 3) !== 1) return; // standby: nothing new
    const k = Math.floor(((tMs - this.modeStartMs) * this.odrHz()) / 1000) - 1; // first sample after 1/ODR
    if (k < 0 || k === this.lastK) return;
    const mg = this.measure(this.modeStartMs + ((k + 1) * 1000) / this.odrHz());
    const lsb = this.lsbPerG() / 1000;
    let ovl = 0;
    mg.forEach((v, i) => {
      const raw = v * lsb;
      if (raw > 32767 || raw < -32768) ovl = 1;
      const r = int16(raw) & 0xffff;
      this.regs[2 * i] = r & 0xff;
      this.regs[2 * i + 1] = r >> 8;
    });
    const t = Math.round(this.temp(tMs / 1000) * 100 + 1200) & 0xffff;
    this.regs[0x07] = t & 0xff;
    this.regs[0x08] = t >> 8;
    const dor = this.readK >= 0 && k > this.lastK + 1 && this.lastK > this.readK ? 4 : 0;
    this.regs[0x06] = 1 | (ovl << 1) | dor;
    this.lastK = k;
  }

  readReg(a) {
    if (a <= 0x05) this.dataRead = true;
    return this.regs[a & 0x0f] ?? 0;
  }

  afterRead() {
    if (this.dataRead) {
      this.regs[0x06] &= ~0x05; // DRDY and DOR clear once the data registers are read
      this.readK = this.lastK;
      this.dataRead = false;
    }
  }
}

const LIS_FS = [6842, 3421, 2281, 1711]; // LSB/G at +-4, 8, 12, 16 G
const LIS_ODR = [0.625, 1.25, 2.5, 5, 10, 20, 40, 80];
const LIS_FAST = [1000, 560, 300, 155]; // FAST_ODR rate by OM (LP, MP, HP, UHP)

/**
 * LIS3MDL: WHO_AM_I 0x0F = 0x3D, CTRL_REG1-5 0x20-0x24, STATUS 0x27 (ZYXDA bit 3), OUT_X_L 0x28 ..
 * OUT_Z_H 0x2D (int16, little-endian unless CTRL_REG4 BLE), TEMP_OUT 0x2E/0x2F (8 LSB/degC, 0 at 25 degC).
 * Multi-byte access auto-increments only with bit 7 of the sub-address set. 6842 LSB/G at +-4 G.
 */
export class LIS3MDL extends Magnetometer {
  static address = 0x1c;
  static noiseMg = 3.2;

  resetRegs() {
    this.regs = new Uint8Array(0x40);
    this.regs[0x0f] = 0x3d;
    this.regs[0x20] = 0x10;
    this.regs[0x22] = 0x03;
    this.ptr = 0;
    this.inc = false;
    this.modeStartMs = 0;
    this.lastK = -1;
    this.readK = -1;
    this.singleDueMs = null;
  }

  setPointer(p) {
    this.ptr = p & 0x7f;
    this.inc = (p & 0x80) !== 0;
  }

  nextAddr() {
    const a = this.ptr;
    if (this.inc) this.ptr = (a + 1) & 0x3f;
    return a;
  }

  odrHz() {
    const c1 = this.regs[0x20];
    return c1 & 0x02 ? LIS_FAST[(c1 >> 5) & 3] : LIS_ODR[(c1 >> 2) & 7];
  }

  writeReg(a, v, tMs) {
    if (a === 0x21 && v & 0x0c) {
      this.resetRegs(); // REBOOT / SOFT_RST
      return;
    }
    if (a < 0x20 || a > 0x33 || a === 0x27 || (a >= 0x28 && a <= 0x2f)) return; // read-only
    if (a === 0x22) {
      const md = v & 3;
      if (md === 0 && (this.regs[0x22] & 3) !== 0) this.modeStartMs = tMs;
      if (md === 1) this.singleDueMs = tMs + 10;
    }
    this.regs[a] = v;
  }

  latch(tSampleMs) {
    const mg = this.measure(tSampleMs);
    const lsb = LIS_FS[(this.regs[0x21] >> 5) & 3] / 1000;
    const ble = (this.regs[0x23] & 0x02) !== 0;
    mg.forEach((v, i) => {
      const r = int16(v * lsb) & 0xffff;
      this.regs[0x28 + 2 * i] = ble ? r >> 8 : r & 0xff;
      this.regs[0x29 + 2 * i] = ble ? r & 0xff : r >> 8;
    });
    if (this.regs[0x20] & 0x80) {
      const t = int16((this.temp(tSampleMs / 1000) - 25) * 8) & 0xffff;
      this.regs[0x2e] = t & 0xff;
      this.regs[0x2f] = t >> 8;
    }
  }

  update(tMs) {
    const md = this.regs[0x22] & 3;
    if (md === 1 && this.singleDueMs !== null && tMs >= this.singleDueMs) {
      this.latch(this.singleDueMs);
      this.regs[0x27] = (this.regs[0x27] & 0x0f ? 0xf0 : 0) | 0x0f;
      this.regs[0x22] = (this.regs[0x22] & ~3) | 3; // back to power-down after one conversion
      this.singleDueMs = null;
      return;
    }
    if (md !== 0) return;
    const k = Math.floor(((tMs - this.modeStartMs) * this.odrHz()) / 1000) - 1;
    if (k < 0 || k === this.lastK) return;
    this.latch(this.modeStartMs + ((k + 1) * 1000) / this.odrHz());
    const overrun = this.regs[0x27] & 0x08 ? 0xf0 : 0; // previous set not read yet
    this.regs[0x27] = 0x0f | overrun;
    this.lastK = k;
  }

  readReg(a) {
    if (a >= 0x28 && a <= 0x2d) this.dataRead = true;
    return this.regs[a] ?? 0;
  }

  afterRead() {
    if (this.dataRead) {
      this.regs[0x27] = 0;
      this.dataRead = false;
    }
  }
}
