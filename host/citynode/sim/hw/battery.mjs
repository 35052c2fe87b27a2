// The LiPo cell: state of charge drained by load() accounting, open-circuit voltage from a
// typical LiPo discharge curve (4.2 V full .. 3.3 V empty), seen on an ADC pin through the
// board's divider (boards/*.json battery.pin/divider/enable) or through an AXP192 (T-Beam).
import { Device } from "./device.mjs";
import { makeCurve } from "./curve.mjs";

// Typical single-cell LiPo open-circuit voltage against state of charge (0..1).
const OCV = [
  [0.0, 3.3], [0.05, 3.6], [0.1, 3.69], [0.2, 3.74], [0.3, 3.77], [0.4, 3.8], [0.5, 3.84],
  [0.6, 3.88], [0.7, 3.93], [0.8, 3.99], [0.9, 4.07], [1.0, 4.2],
];
const ocvCurve = makeCurve({ points: OCV }, { key: "ocv" });

// Deep-sleep board currents (mA) from sensors-and-boards.md; awake/radio are ESP32 + SX127x/SX126x typicals.
const SLEEP_MA = { heltec_v3: 0.015, heltec_v2: 0.9 };
const DEFAULT_MA = { awake: 45, radio: 120, rx: 12, sleep: 0.15, sensor: 5 };

/**
 * Keys: capacity_mah (2000), soc (1.0 initial state of charge), currents_ma {awake, radio, rx,
 * sleep, sensor (added while sensor_power is on)}, internal_resistance_ohm (0.15, sag while awake),
 * charge_ma (curve, e.g. a solar panel; default 0).
 */
export class Battery extends Device {
  configure(cfg) {
    const first = this.cfg === undefined;
    super.configure(cfg);
    this.capacityMah = this.num("capacity_mah", 2000);
    this.currents = { ...DEFAULT_MA, sleep: SLEEP_MA[this.ctx.board.name] ?? DEFAULT_MA.sleep, ...(cfg.currents_ma ?? {}) };
    this.rInt = this.num("internal_resistance_ohm", 0.15);
    this.charge = this.curve("charge_ma", 0);
    if (first || cfg.soc !== undefined) this.usedMah = (1 - this.num("soc", 1)) * this.capacityMah;
    this.lastLoad = "awake";
  }

  /** Account ms of the given load. Returns the mAh drawn. */
  drain(kind, ms, tMs) {
    let ma = this.currents[kind];
    if (ma === undefined) throw new Error(`load(): unknown kind ${JSON.stringify(kind)} (use ${Object.keys(this.currents).join(", ")})`);
    if (kind !== "sleep" && this.ctx.sensorPowerOn()) ma += this.currents.sensor;
    const net = ma - this.charge(tMs / 1000);
    const mah = (net * ms) / 3.6e6;
    this.usedMah = Math.max(0, Math.min(this.capacityMah, this.usedMah + mah));
    this.lastLoad = kind;
    return mah;
  }

  soc() {
    return 1 - this.usedMah / this.capacityMah;
  }

  /** Cell voltage (V) now: open-circuit voltage minus the sag of the current being drawn. */
  volts() {
    const ma = this.currents[this.lastLoad === "sleep" ? "awake" : this.lastLoad] ?? this.currents.awake;
    return Math.max(0, ocvCurve(this.soc()) - (ma / 1000) * this.rInt);
  }

  /** Voltage at the ADC pin (uV), or null when the ADC pin is not this battery's. */
  microvolts(tMs) {
    const b = this.ctx.board.battery;
    if (!b || b.source !== "adc") return null;
    if (this.fault("disconnected", tMs)) return null;
    if (b.enable && !this.ctx.pinActive(b.enable.pin, b.enable.active_low)) return 0; // divider switched off
    return Math.round((this.volts() * 1e6) / b.divider);
  }
}

/** AXP192 power chip (T-Beam) at 0x34: battery voltage ADC in 0x78 (8 MSB) / 0x79 (4 LSB), 1.1 mV/LSB. */
export class Axp192 extends Device {
  static address = 0x34;

  configure(cfg) {
    super.configure(cfg);
    this.regs = this.regs ?? new Uint8Array(256);
    this.regs[0x82] = this.regs[0x82] || 0x83; // power-on default: battery voltage ADC enabled
    this.regs[0x01] = 0x20; // battery present
    this.ptr = 0;
  }

  i2cWrite(bytes) {
    if (bytes.length === 0) return true;
    this.ptr = bytes[0];
    for (let i = 1; i < bytes.length; i++) this.regs[(this.ptr + i - 1) & 0xff] = bytes[i];
    return true;
  }

  i2cRead(n) {
    const battery = this.ctx.battery;
    const raw = battery && this.regs[0x82] & 0x80 ? Math.min(4095, Math.round((battery.volts() * 1000) / 1.1)) : 0;
    this.regs[0x78] = raw >> 4;
    this.regs[0x79] = raw & 0x0f;
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.regs[(this.ptr + i) & 0xff];
    return out;
  }
}
