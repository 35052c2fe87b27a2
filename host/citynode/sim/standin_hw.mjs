// A minimal stand-in for hw/index.mjs (the device models): no sensors, a radio that records
// packets with their LoRa airtime. Used when the real models are absent or for core tests.

/** LoRa time on air in ms (Semtech AN1200.13), explicit header. */
export function loraAirtimeMs(len, cfg) {
  const sf = cfg.sf ?? 7;
  const bw = Number(cfg.bw ?? 125) * 1000;
  const cr = (cfg.coding_rate ?? 5) - 4;
  const pre = cfg.preamble_len ?? 12;
  const crc = cfg.crc_en === false ? 0 : 1;
  const de = sf >= 11 && bw <= 125000 ? 1 : 0;
  const tsym = (2 ** sf / bw) * 1000;
  const payload = 8 + Math.max(Math.ceil((8 * len - 4 * sf + 28 + 16 * crc) / (4 * (sf - 2 * de))) * (cr + 4), 0);
  return (pre + 4.25) * tsym + payload * tsym;
}

export function createHardware(board, scenario, clock) {
  const pins = new Map();
  let radio = [];
  return {
    i2c: () => null,
    uart: () => null,
    adcMicrovolts: () => null,
    i2sRead: (_id, n) => new Uint8Array(n),
    pinWrite: (pin, v) => pins.set(pin, v),
    pinRead: (pin) => pins.get(pin) ?? 0,
    radioSend: (bytes, cfg) => {
      const airtimeMs = loraAirtimeMs(bytes.length, cfg || {});
      radio.push({ t_ms: clock.nowMs(), bytes: Buffer.from(bytes).toString("hex"), airtime_ms: airtimeMs, cfg });
      return { airtimeMs };
    },
    radioRecv: () => null,
    load: () => {},
    setScenario: () => {},
    drainRadio: () => {
      const r = radio;
      radio = [];
      return r;
    },
  };
}
