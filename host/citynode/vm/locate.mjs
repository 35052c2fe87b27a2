// Finds the pinned MicroPython WebAssembly package in the project's node_modules.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const PACKAGE = "node_modules/@micropython/micropython-webassembly-pyscript/micropython.mjs";

export function locateMicroPython() {
  const roots = [process.env.CITYNODE_ROOT, dirname(fileURLToPath(import.meta.url))].filter(Boolean);
  for (const start of roots) {
    let dir = resolve(start);
    for (;;) {
      const candidate = join(dir, PACKAGE);
      if (existsSync(candidate)) return pathToFileURL(candidate).href;
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  throw new Error(`MicroPython WebAssembly port not found (${PACKAGE}); run 'make setup'`);
}
