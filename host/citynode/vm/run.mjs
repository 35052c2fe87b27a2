// Runs one MicroPython program on the official WebAssembly port, for tests and benches.
// Input (stdin, JSON): {heap: bytes, files: {"/path": base64}, code: "python source"}.
// Output: the program's stdout on stdout; a Python traceback on stderr and exit 1 on error.
import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { locateMicroPython } from "./locate.mjs";

const { loadMicroPython } = await import(locateMicroPython());
const job = JSON.parse(readFileSync(0, "utf8"));
const out = (bytes) => process.stdout.write(Buffer.from(bytes));
const mp = await loadMicroPython({ heapsize: job.heap || 112 * 1024, stdout: out, stderr: out, linebuffer: false });

for (const [path, b64] of Object.entries(job.files || {})) {
  const dir = dirname(path);
  if (dir !== "/") mp.FS.mkdirTree(dir);
  mp.FS.writeFile(path, Buffer.from(b64, "base64"));
}
try {
  mp.runPython(job.code);
} catch (error) {
  if (error.name !== "PythonError") throw error;
  if (error.type !== "SystemExit") {
    process.stderr.write(error.message);
    process.exitCode = 1;
  }
}
