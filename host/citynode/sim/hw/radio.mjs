// The LoRa radio as the scenario sees it: every packet the firmware sends is recorded with its
// virtual time and time on air (Semtech AN1200.13), checked against a gateway (sync word,
// channel, spreading factor, IQ), and scripted downlinks are delivered to receive windows.
import { parseDuration } from "./curve.mjs";

export const MAX_PAYLOAD = 255;
const BW_KHZ = { 7.8: 7.8, 10.4: 10.4, 15.6: 15.6, 20.8: 20.8, 31.25: 31.25, 41.7: 41.7, 62.5: 62.5, 125: 125, 250: 250, 500: 500 };
// EU868: the three default LoRaWAN channels and the five usual extra ones.
const EU868_KHZ = [868100, 868300, 868500, 867100, 867300, 867500, 867700, 867900];

/** lora_cfg with micropython-lib's defaults filled in (sf 7, bw 125, 4/5, preamble 12, CRC on, explicit header, 0x12). */
export function normalizeCfg(cfg = {}) {
  const bw = BW_KHZ[String(cfg.bw ?? "125")];
  if (bw === undefined) throw new Error(`lora_cfg bw ${JSON.stringify(cfg.bw)}: use one of ${Object.keys(BW_KHZ).join(", ")}`);
  const sf = cfg.sf ?? 7;
  if (!Number.isInteger(sf) || sf < 5 || sf > 12) throw new Error(`lora_cfg sf ${sf}: use 5..12`);
  const cr = cfg.coding_rate ?? 5;
  if (!Number.isInteger(cr) || cr < 5 || cr > 8) throw new Error(`lora_cfg coding_rate ${cr}: use 5..8 (4/5 .. 4/8)`);
  return {
    ...cfg,
    sf,
    bwKhz: bw,
    coding_rate: cr,
    preamble_len: cfg.preamble_len ?? 12,
    crc_en: cfg.crc_en ?? true,
    implicit_header: cfg.implicit_header ?? false,
    syncword: syncword8(cfg.syncword ?? 0x12),
    invert_iq_tx: cfg.invert_iq_tx ?? false,
    invert_iq_rx: cfg.invert_iq_rx ?? false,
  };
}

/** SX126x 16-bit sync words (0x3444 / 0x1424) as the SX127x byte (0x34 / 0x12) they stand for. */
export function syncword8(sw) {
  return sw > 0xff ? ((sw >> 8) & 0xf0) | ((sw >> 4) & 0x0f) : sw;
}

/** Time on air (ms) of a payload of `len` bytes: Semtech AN1200.13 / SX1276 datasheet 4.1.1.5. */
export function timeOnAirMs(len, cfg) {
  const c = normalizeCfg(cfg);
  const tsym = 2 ** c.sf / c.bwKhz; // ms
  const de = (c.ldro ?? tsym >= 16) ? 1 : 0; // low data rate optimisation (SF11/12 at 125 kHz)
  const sx126xLowSf = String(c.chip ?? "").startsWith("sx126") && c.sf <= 6;
  const bits = 8 * len - 4 * c.sf + 28 + 16 * (c.crc_en ? 1 : 0) - 20 * (c.implicit_header ? 1 : 0) - (sx126xLowSf ? 8 : 0);
  const payloadSym = 8 + Math.max(Math.ceil(bits / (4 * (c.sf - 2 * de))) * c.coding_rate, 0);
  const preambleSym = c.preamble_len + 4.25 + (sx126xLowSf ? 2 : 0);
  return (preambleSym + payloadSym) * tsym;
}

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const unhex = (s) => Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));

export class Radio {
  constructor(ctx) {
    this.ctx = ctx;
    this.sent = []; // packets not yet drained
    this.history = []; // [{t, airtime}] of the last hour, for the duty cycle figure
    this.count = 0;
    this.injected = [];
    this.lastCfg = {};
    this.configure();
  }

  /** (Re)read the gateway and the scripted downlinks from the scenario. */
  configure() {
    const g = this.ctx.scenario.gateway;
    this.gateway =
      g === null
        ? null
        : {
            syncword: syncword8(g?.syncword ?? 0x34),
            freqs: g?.freqs_khz ?? EU868_KHZ,
            sfs: g?.sf ?? [7, 8, 9, 10, 11, 12],
            bwKhz: Number(g?.bw ?? 125),
          };
    this.delivered = this.delivered ?? new Set();
    this.scripted = this.ctx.events
      .filter((e) => e.type === "downlink")
      .map((e, i) => ({ ...e, key: `s${i}`, bytes: unhex(e.hex ?? "") }));
  }

  /** Why the gateway would not hear a packet sent with cfg, or null if it would. */
  gatewayRefusal(c, tMs) {
    const g = this.gateway;
    if (!g) return "no gateway in the scenario";
    if (c.syncword !== g.syncword) return `sync word 0x${c.syncword.toString(16)} (gateway listens for 0x${g.syncword.toString(16)})`;
    if (!g.freqs.includes(Math.round(c.freq_khz))) return `frequency ${c.freq_khz} kHz is not a gateway channel`;
    if (!g.sfs.includes(c.sf) || c.bwKhz !== g.bwKhz) return `SF${c.sf}/${c.bwKhz} kHz is not received by the gateway`;
    if (c.invert_iq_tx) return "inverted IQ on an uplink";
    if (c.implicit_header) return "implicit header";
    if (this.ctx.faults.active("radio", "radio_loss", tMs)) return "lost (radio_loss fault)";
    return null;
  }

  send(bytes, cfg, tMs) {
    if (bytes.length > MAX_PAYLOAD) throw new RangeError(`LoRa payload of ${bytes.length} bytes: the radio's FIFO takes at most ${MAX_PAYLOAD}`);
    const c = normalizeCfg(cfg);
    if (!c.freq_khz) throw new Error("lora_cfg freq_khz is not set: configure the radio's frequency before sending");
    this.lastCfg = cfg;
    const airtime = timeOnAirMs(bytes.length, c);
    this.history = this.history.filter((h) => h.t > tMs - 3600000);
    this.history.push({ t: tMs, airtime });
    const refusal = this.gatewayRefusal(c, tMs);
    this.count++;
    this.sent.push({
      t_ms: tMs,
      bytes: hex(bytes),
      airtime_ms: airtime,
      cfg,
      n: this.count,
      freq_khz: c.freq_khz,
      sf: c.sf,
      syncword: c.syncword,
      heard: refusal === null,
      why_not_heard: refusal,
      airtime_last_hour_ms: this.history.reduce((s, h) => s + h.airtime, 0),
    });
    this.lastUplinkEnd = { n: this.count, tMs: tMs + airtime };
    this.uplinkEnds = this.uplinkEnds ?? new Map();
    this.uplinkEnds.set(this.count, tMs + airtime);
    return { airtimeMs: airtime };
  }

  /** A downlink to deliver, as the core or a test injects it: {hex, t_ms (end of TX), rssi, snr}. */
  inject(d) {
    this.injected.push({ ...d, key: `i${this.injected.length}`, bytes: d.bytes ?? unhex(d.hex ?? "") });
  }

  /** When a scripted downlink is on air: {startMs, endMs}, or null if not (yet) scheduled. */
  schedule(d, rx) {
    let start;
    if (d.after_uplink !== undefined) {
      const end = this.uplinkEnds?.get(d.after_uplink);
      if (end === undefined) return null;
      start = end + (d.delay_ms ?? 1000);
    } else if (d.t_ms !== undefined) {
      return { startMs: d.t_ms - timeOnAirMs(d.bytes.length, rx), endMs: d.t_ms };
    } else {
      start = parseDuration(d.t ?? 0, "downlink t") * 1000;
    }
    return { startMs: start, endMs: start + timeOnAirMs(d.bytes.length, { ...rx, ...(d.sf ? { sf: d.sf } : {}) }) };
  }

  /**
   * Listen from tMs for timeoutMs (null or < 0: until the next downlink). Returns the payload as a
   * Uint8Array with t_ms (end of reception), wait_ms (t_ms - tMs), rssi (dBm) and snr (dB) set on it,
   * or null. A downlink is received only if the window is open when its preamble starts.
   */
  recv(timeoutMs, cfg, tMs) {
    const rx = normalizeCfg(cfg ?? this.lastCfg);
    const endWindow = timeoutMs === null || timeoutMs === undefined || timeoutMs < 0 ? Infinity : tMs + timeoutMs;
    let best = null;
    for (const d of [...this.scripted, ...this.injected]) {
      if (this.delivered.has(d.key)) continue;
      const s = this.schedule(d, rx);
      if (!s) continue;
      if (s.startMs < tMs - 1) {
        if (s.endMs < tMs) this.delivered.add(d.key); // on air while nobody listened: missed for good
        continue;
      }
      if (s.endMs > endWindow) continue;
      if (d.freq_khz !== undefined && rx.freq_khz !== undefined && Math.round(d.freq_khz) !== Math.round(rx.freq_khz)) continue;
      if (d.sf !== undefined && d.sf !== rx.sf) continue;
      if (syncword8(d.syncword ?? this.gateway?.syncword ?? 0x34) !== rx.syncword) continue;
      if (!best || s.endMs < best.s.endMs) best = { d, s };
    }
    if (!best) return null;
    this.delivered.add(best.d.key);
    const out = Uint8Array.from(best.d.bytes);
    out.t_ms = best.s.endMs;
    out.wait_ms = best.s.endMs - tMs;
    out.rssi = best.d.rssi ?? -90;
    out.snr = best.d.snr ?? 8;
    if (this.ctx.faults.active("radio", "radio_loss", best.s.endMs)) return null;
    return out;
  }

  drain() {
    const out = this.sent;
    this.sent = [];
    return out;
  }
}
