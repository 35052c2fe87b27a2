// citynode virtual board: the hardware around the MicroPython VM (device models + scenario engine).
//
// The core's VM-side `machine` module calls these synchronously, in the worker thread:
//
//   createHardware(board /* parsed boards/NAME.json */, scenario /* parsed JSON or null */, clock /* {nowMs()} */)
//   -> {
//     i2c(busId, addr) -> device | null   device.write(Uint8Array) -> boolean (false = NACK; an empty write is
//                                          an address probe, as for I2C.scan()); device.read(n) -> Uint8Array | null (null = NACK)
//     uart(uartId) -> device | null        device.write(Uint8Array); device.read(maxBytes) -> Uint8Array (bytes arrived by
//                                          clock.nowMs()); extensions: device.any() -> count, device.open() (call when the
//                                          firmware constructs machine.UART: the RX buffer starts empty)
//     adcMicrovolts(pin) -> number | null  voltage at the pin now (after dividers), null = nothing connected
//     i2sRead(i2sId, nBytes, format) -> Uint8Array   format {bits: 32|16, format: "mono"|"stereo" (or I2S.MONO 0 / I2S.STEREO 1), rate, ibuf};
//                                          mic samples, 24-bit left-justified in 32-bit little-endian words (bits 32).
//                                          The stream is continuous: if the firmware reads faster than real time
//                                          the core should advance the clock by nBytes / (rate * bytes per frame).
//     pinWrite(pin, value); pinRead(pin, pull?) -> 0|1   (pull "up": undriven reads 1) sensor power (board sensor_power, active_low honoured), LED, ...
//     radioSend(bytes, cfg) -> {airtimeMs}  cfg = the lora_cfg dict (or its JSON); throws RangeError past 255 bytes.
//                                          Does NOT drain the battery: call load("radio", airtimeMs).
//     radioRecv(timeoutMs, cfg?) -> Uint8Array | null   extension: the result carries t_ms (end of reception),
//                                          wait_ms (how long the receive took), rssi (dBm), snr (dB); without cfg
//                                          the last sent cfg is used. timeoutMs null/<0 = until the next downlink.
//     load(kind, ms)                       battery accounting: "awake" | "radio" (TX) | "rx" | "sleep"
//     setScenario(scenario)                replaces curves, events and faults live; device state (modes, battery
//                                          charge, stream positions) is kept for devices whose id and type remain
//     drainRadio() -> [{t_ms, bytes (hex), airtime_ms, cfg, n, freq_khz, sf, syncword, heard, why_not_heard,
//                       airtime_last_hour_ms}]
//     extensions: injectDownlink({hex, t_ms, rssi, snr}), status() -> {t_ms, battery, sensor_power, pins},
//                 reset() (call on machine.reset()/deepsleep(): pins back to inputs, so sensor power goes off;
//                 UART RX buffers empty),
//                 device(id) -> the model (tests, debugging)
//   }
//
// VM side: mpy/lora.py is the `lora` module (micropython-lib's SX1276/SX1262 sync-modem surface). It calls
// the core's `_cnsim` bridge: radio_send(addr, n, cfg_json) -> us (waits the time on air), radio_recv(addr,
// max, timeout_ms, cfg_json) -> n | -1 | -2, and optionally radio_rx_meta() -> [rssi_dbm, snr_db].
// test/lora_vm.mjs is a stand-in for that bridge, used by tests/test_sim_devices_lora.py.
//
// clock.nowMs() must be the scenario's virtual time (ms since the scenario started), monotonic across
// deep sleep and resets (not the VM's ticks_ms).
import { parseDuration } from "./curve.mjs";
import { Device, Faults } from "./device.mjs";
import { SCD4x, SHT4x } from "./sensirion.mjs";
import { SoilProbe, StemmaSoil } from "./soil.mjs";
import { Axp192, Battery } from "./battery.mjs";
import { SDS011 } from "./sds011.mjs";
import { PMS5003 } from "./pms5003.mjs";
import { Microphone } from "./mic.mjs";
import { LIS3MDL, QMC5883L } from "./mag.mjs";
import { Radio } from "./radio.mjs";
import { Rng, strHash } from "./rng.mjs";

export { timeOnAirMs, normalizeCfg } from "./radio.mjs";
export { crc8 } from "./sensirion.mjs";
export { parseDuration, makeCurve } from "./curve.mjs";

/** A voltage source on any ADC pin. Keys: pin, mv (curve). */
class AdcSource extends Device {
  configure(cfg) {
    super.configure(cfg);
    if (cfg.pin === undefined) throw new Error(`${this.id}: pin is required`);
    this.pin = cfg.pin;
    this.mv = this.curve("mv", 0);
  }
  microvolts(tMs) {
    if (this.fault("disconnected", tMs) || !this.isPowered()) return null;
    return Math.max(0, Math.round(this.mv(this.valueTimeS(tMs)) * 1000));
  }
}

/** An SSD1306 OLED (0x3C): acknowledges everything, so display code runs. */
class Ssd1306 extends Device {
  static address = 0x3c;
  i2cWrite() {
    return true;
  }
  i2cRead(n) {
    return new Uint8Array(n);
  }
}

export const DEVICE_TYPES = {
  soil_probe: SoilProbe,
  stemma_soil: StemmaSoil,
  battery: Battery,
  axp192: Axp192,
  sds011: SDS011,
  pms5003: PMS5003,
  pms7003: PMS5003,
  scd40: SCD4x,
  scd41: SCD4x,
  sht4x: SHT4x,
  sht40: SHT4x,
  sht41: SHT4x,
  sht45: SHT4x,
  mic: Microphone,
  inmp441: Microphone,
  ics43434: Microphone,
  qmc5883l: QMC5883L,
  lis3mdl: LIS3MDL,
  adc: AdcSource,
  ssd1306: Ssd1306,
};
const EVENT_TYPES = ["car_arrive", "car_leave", "irrigation", "downlink"];

/** Check a scenario and fill defaults; errors name the offending entry. */
export function normalizeScenario(scenario, board) {
  const s = scenario ?? {};
  if (typeof s !== "object" || Array.isArray(s)) throw new Error("scenario: expected a JSON object");
  if (s.board !== undefined && board?.name !== undefined && s.board !== board.name) {
    throw new Error(`scenario is for board ${s.board} but the virtual board is ${board.name}`);
  }
  const seen = new Map();
  const devices = (s.devices ?? []).map((d, i) => {
    if (!d || typeof d.type !== "string" || !DEVICE_TYPES[d.type]) {
      throw new Error(`devices[${i}]: type must be one of ${Object.keys(DEVICE_TYPES).join(", ")}`);
    }
    let id = d.id;
    if (id === undefined) {
      const n = seen.get(d.type) ?? 0;
      seen.set(d.type, n + 1);
      id = n ? `${d.type}${n + 1}` : d.type;
    }
    return { ...d, id };
  });
  const ids = new Set();
  for (const d of devices) {
    if (ids.has(d.id)) throw new Error(`devices: id ${JSON.stringify(d.id)} is used twice`);
    ids.add(d.id);
  }
  const events = (s.events ?? []).map((e, i) => {
    if (!e || !EVENT_TYPES.includes(e.type)) throw new Error(`events[${i}]: type must be one of ${EVENT_TYPES.join(", ")}`);
    const tS = e.t !== undefined ? parseDuration(e.t, `events[${i}].t`) : e.after_uplink !== undefined ? Infinity : 0;
    return { ...e, tS };
  });
  events.sort((a, b) => a.tS - b.tS);
  return {
    ...s,
    seed: s.seed ?? 1,
    startS: (s.start_hour ?? 0) * 3600,
    devices,
    events,
    faults: s.faults ?? [],
    inputs: s.inputs ?? {},
  };
}

export function createHardware(board, scenario, clock) {
  if (!board || typeof board !== "object") throw new Error("createHardware: board (parsed boards/NAME.json) is required");
  const pins = new Map();
  const power = board.sensor_power ?? null;
  const ctx = {
    clock,
    board,
    pins,
    sensorPowerSinceMs: 0,
    pinActive(pin, activeLow) {
      const v = pins.get(pin);
      return v !== undefined && v === (activeLow ? 0 : 1);
    },
    sensorPowerOn() {
      return power !== null && ctx.pinActive(power.pin, power.active_low);
    },
  };
  const devices = new Map();
  let radio;

  function apply(raw) {
    const s = normalizeScenario(raw, board);
    Object.assign(ctx, { scenario: s, seed: s.seed, startS: s.startS, events: s.events, faults: new Faults(s.faults, s.seed) });
    const cfgs = [...s.devices];
    if (!cfgs.some((d) => d.type === "battery")) cfgs.push({ type: "battery", id: "battery" });
    if (board.battery?.source === "axp192" && !cfgs.some((d) => d.type === "axp192")) cfgs.push({ type: "axp192", id: "axp192" });
    const keep = new Set();
    for (const cfg of cfgs) {
      const old = devices.get(cfg.id);
      if (old && old.type === cfg.type) old.configure(cfg);
      else devices.set(cfg.id, new DEVICE_TYPES[cfg.type](ctx, cfg));
      keep.add(cfg.id);
    }
    for (const id of [...devices.keys()]) if (!keep.has(id)) devices.delete(id);
    ctx.battery = [...devices.values()].find((d) => d instanceof Battery);
    ctx.inputs = Object.fromEntries(
      Object.entries(s.inputs).map(([pin, spec]) => [pin, new Device(ctx, { id: `input${pin}`, type: "input", level: spec }).curve("level", 0)]),
    );
    if (radio) radio.configure();
    else radio = new Radio(ctx);
  }
  apply(scenario);

  const now = () => clock.nowMs();
  const all = () => [...devices.values()];
  const garbage = new Rng(strHash(`garbage/${ctx.seed}`));

  function i2cDevice(busId, addr) {
    return all().find(
      (d) => typeof d.i2cWrite === "function" && (d.cfg.bus ?? board.i2c?.id) === busId && (d.cfg.address ?? d.constructor.address) === addr,
    );
  }

  function reachable(d, t) {
    return d && d.isPowered() && !d.fault("silent", t) && !d.fault("nack", t);
  }

  return {
    i2c(busId, addr) {
      if (!i2cDevice(busId, addr)) return null;
      return {
        write(bytes) {
          const t = now();
          const d = i2cDevice(busId, addr);
          if (!reachable(d, t)) return false;
          return d.i2cWrite(Uint8Array.from(bytes), t);
        },
        read(n) {
          const t = now();
          const d = i2cDevice(busId, addr);
          if (!reachable(d, t)) return null;
          const out = d.i2cRead(n, t);
          if (!out) return null;
          if (d.fault("garbage", t)) for (let i = 0; i < out.length; i++) out[i] = garbage.byte();
          else if (d.fault("bad_checksum", t) && out.length) out[out.length - 1] ^= 0x5a;
          return out;
        },
      };
    },

    uart(uartId) {
      const find = () => all().find((d) => typeof d.uartRead === "function" && d.uartId === uartId);
      if (!find()) return null;
      return {
        write(bytes) {
          find()?.uartWrite(Uint8Array.from(bytes), now());
        },
        read(maxBytes) {
          return find()?.uartRead(maxBytes ?? Infinity, now()) ?? new Uint8Array(0);
        },
        any() {
          return find()?.uartAny(now()) ?? 0;
        },
        open() {
          find()?.open(now());
        },
      };
    },

    adcMicrovolts(pin) {
      const t = now();
      for (const d of all()) {
        if (typeof d.microvolts !== "function") continue;
        const isBattery = d instanceof Battery;
        if ((isBattery && board.battery?.pin === pin) || (!isBattery && d.pin === pin)) return d.microvolts(t);
      }
      return null;
    },

    i2sRead(i2sId, nBytes, format = {}) {
      const mic = all().find((d) => d instanceof Microphone && d.i2sId === i2sId);
      return mic ? mic.read(nBytes, format, now()) : new Uint8Array(nBytes);
    },

    pinWrite(pin, value) {
      const t = now();
      const before = ctx.sensorPowerOn();
      pins.set(pin, value ? 1 : 0);
      const after = ctx.sensorPowerOn();
      if (before !== after) {
        ctx.sensorPowerSinceMs = t;
        for (const d of all()) if (d.power === "sensor_power") d.onPower(after, t);
      }
    },

    pinRead(pin, pull) {
      const input = ctx.inputs[String(pin)];
      if (input) return input(now() / 1000) >= 0.5 ? 1 : 0;
      // An undriven input reads its pull: a pulled-up button (GPIO0 BOOT) reads 1 until pressed.
      return pins.get(pin) ?? (pull === "up" ? 1 : 0);
    },

    radioSend(bytes, cfg) {
      const c = typeof cfg === "string" ? JSON.parse(cfg) : cfg ?? {};
      return radio.send(Uint8Array.from(bytes), c, now());
    },

    radioRecv(timeoutMs, cfg) {
      const c = typeof cfg === "string" ? JSON.parse(cfg) : cfg;
      return radio.recv(timeoutMs, c, now());
    },

    load(kind, ms) {
      ctx.battery.drain(kind, ms, now());
    },

    setScenario(s) {
      apply(s);
    },

    reset() {
      // Reset / deep sleep: GPIOs go back to inputs (sensor power off unless held), UART RX buffers empty.
      const t = now();
      const before = ctx.sensorPowerOn();
      pins.clear();
      if (before) {
        ctx.sensorPowerSinceMs = t;
        for (const d of all()) if (d.power === "sensor_power") d.onPower(false, t);
      }
      for (const d of all()) if (typeof d.open === "function") d.open(t);
    },

    drainRadio() {
      return radio.drain();
    },

    injectDownlink(d) {
      radio.inject(d);
    },

    status() {
      const b = ctx.battery;
      return {
        t_ms: now(),
        battery: { soc: b.soc(), volts: b.volts(), used_mah: b.usedMah, capacity_mah: b.capacityMah },
        sensor_power: ctx.sensorPowerOn(),
        pins: Object.fromEntries(pins),
      };
    },

    device(id) {
      return devices.get(id) ?? null;
    },
  };
}

