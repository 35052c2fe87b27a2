// What every device model shares: its scenario parameters, power, curves and faults.
import { makeCurve, parseDuration } from "./curve.mjs";
import { Rng, strHash, uniform } from "./rng.mjs";

export const FAULT_KINDS = ["nack", "silent", "stuck", "garbage", "bad_checksum", "disconnected", "radio_loss"];

/** The scenario's fault windows, looked up by device id, kind and virtual time. */
export class Faults {
  constructor(list, seed) {
    this.seed = seed;
    this.list = (list ?? []).map((f, i) => {
      if (!f || typeof f !== "object") throw new Error(`faults[${i}]: expected an object`);
      if (!FAULT_KINDS.includes(f.kind)) throw new Error(`faults[${i}]: kind must be one of ${FAULT_KINDS.join(", ")}`);
      if (typeof f.device !== "string") throw new Error(`faults[${i}]: device (an id, or "radio") is required`);
      const fromS = f.from !== undefined ? parseDuration(f.from, `faults[${i}].from`) : 0;
      const toS = f.to !== undefined ? parseDuration(f.to, `faults[${i}].to`) : Infinity;
      return { device: f.device, kind: f.kind, fromMs: fromS * 1000, toMs: toS * 1000, rate: f.rate ?? 1, index: i };
    });
    this.draws = 0;
  }

  /** The fault of this kind active for the device at tMs, or null. A rate < 1 makes it intermittent. */
  active(device, kind, tMs) {
    for (const f of this.list) {
      if (f.device === device && f.kind === kind && tMs >= f.fromMs && tMs < f.toMs) {
        if (f.rate >= 1 || uniform(this.seed, strHash(device), f.index, this.draws++) < f.rate) return f;
      }
    }
    return null;
  }
}

/** Base class: a device from the scenario's devices list. */
export class Device {
  static defaultPower = "always";

  constructor(ctx, cfg) {
    this.ctx = ctx;
    this.id = cfg.id;
    this.type = cfg.type;
    this.rng = new Rng(strHash(`${ctx.seed}/${cfg.id}`));
    this.poweredSinceMs = 0;
    this.configure(cfg);
  }

  /** Take (new) scenario parameters; called at creation and by setScenario (state is kept). */
  configure(cfg) {
    this.cfg = cfg;
    this.power = cfg.power ?? this.constructor.defaultPower;
    if (!["always", "sensor_power"].includes(this.power)) throw new Error(`${this.id}: power must be "always" or "sensor_power"`);
  }

  curve(name, dflt) {
    const spec = this.cfg[name] ?? dflt;
    return makeCurve(spec, { seed: this.ctx.seed, key: `${this.id}/${name}`, startS: this.ctx.startS });
  }

  num(name, dflt) {
    const v = this.cfg[name] ?? dflt;
    if (typeof v !== "number" || !Number.isFinite(v)) throw new Error(`${this.id}: ${name} must be a number`);
    return v;
  }

  nowMs() {
    return this.ctx.clock.nowMs();
  }

  isPowered() {
    return this.power === "always" || this.ctx.sensorPowerOn();
  }

  /** Milliseconds since the device last got power (large if always powered). */
  poweredForMs(tMs) {
    return this.power === "always" ? tMs + 1e9 : tMs - this.ctx.sensorPowerSinceMs;
  }

  fault(kind, tMs) {
    return this.ctx.faults.active(this.id, kind, tMs);
  }

  /** The scenario time (s) whose values the device shows at tMs: frozen at the fault start while "stuck". */
  valueTimeS(tMs) {
    const f = this.fault("stuck", tMs);
    return (f ? f.fromMs : tMs) / 1000;
  }

  /** Power went on or off (sensor_power devices only). Devices reset their state here. */
  onPower(_on, _tMs) {}

  /** A scenario event addressed to this device (or to all devices of its type). */
  onEvent(_event) {}
}
