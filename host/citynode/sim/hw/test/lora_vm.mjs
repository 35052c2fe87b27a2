// Test driver: runs MicroPython code on the real VM (WASM port) with mpy/lora.py installed as
// `lora`, its bridge (the radio part of the core's `_cnsim`: buffers as addresses in the VM's
// memory) wired to createHardware()'s radio, and a virtual clock (time.sleep_ms advances it at
// once). Job on stdin: {board, scenario, code}. Prints the program's output, then one line
// "@@RADIO " + JSON of drainRadio().
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { locateMicroPython } from "../../../vm/locate.mjs";
import { createHardware } from "../index.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const job = JSON.parse(readFileSync(0, "utf8"));
let t = 0;
const hw = createHardware(job.board, job.scenario ?? null, { nowMs: () => t });
// The VM's linear memory, caught as the module instantiates (the package does not export HEAPU8).
let memory = null;
const instantiate = WebAssembly.instantiate;
WebAssembly.instantiate = async (...args) => {
  const r = await instantiate(...args);
  const inst = r.instance ?? r;
  if (inst.exports?.memory) memory = inst.exports.memory;
  return r;
};
const { loadMicroPython } = await import(locateMicroPython());
const out = (b) => process.stdout.write(Buffer.from(b));
const mp = await loadMicroPython({ heapsize: 256 * 1024, stdout: out, stderr: out, linebuffer: false });
let meta = null;
const bridge = {
  radio_send(addr, n, cfgJson) {
    const airtime = hw.radioSend(new Uint8Array(memory.buffer, addr, n).slice(), cfgJson).airtimeMs;
    t += airtime;
    hw.load("radio", airtime);
    return Math.round(airtime * 1000);
  },
  radio_recv(addr, max, timeoutMs, cfgJson) {
    const data = hw.radioRecv(timeoutMs < 0 ? null : timeoutMs, cfgJson);
    if (!data) {
      t += Math.max(0, timeoutMs);
      return -1;
    }
    t += data.wait_ms;
    meta = [data.rssi, data.snr];
    const k = Math.min(max, data.length);
    new Uint8Array(memory.buffer, addr, k).set(data.subarray(0, k));
    return k;
  },
  radio_rx_meta: () => meta,
  now_ms: () => t,
  advance: (ms) => {
    t += ms;
  },
};
mp.registerJsModule("_cnsim", bridge);
mp.FS.writeFile("/lora.py", readFileSync(join(here, "..", "mpy", "lora.py")));
const prelude = `
import sys, _cnsim as _simhw
class _VirtualTime:
    @staticmethod
    def ticks_ms():
        return int(_simhw.now_ms()) & 0x3FFFFFFF
    @staticmethod
    def ticks_add(a, b):
        return (a + b) & 0x3FFFFFFF
    @staticmethod
    def ticks_diff(a, b):
        return ((a - b + 0x20000000) & 0x3FFFFFFF) - 0x20000000
    @staticmethod
    def sleep_ms(ms):
        _simhw.advance(ms)
sys.modules["time"] = _VirtualTime
`;
let failed = false;
try {
  mp.runPython(prelude + job.code);
} catch (error) {
  if (error.name !== "PythonError") throw error;
  out(new TextEncoder().encode(error.message));
  failed = true;
}
process.stdout.write(`\n@@RADIO ${JSON.stringify(hw.drainRadio())}\n`);
process.exitCode = failed ? 1 : 0;
