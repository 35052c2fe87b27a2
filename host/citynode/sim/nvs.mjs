// esp32.NVS: values set are visible at once but only committed ones are durable (a power cut
// drops the rest). Committed values live in one JSON file written atomically.
import fs from "node:fs";

export class Nvs {
  constructor(file) {
    this.file = file;
    this.pending = new Map(); // ns -> Map(key -> value | null (erased))
    try {
      this.committed = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch {
      this.committed = {};
    }
  }

  /** {"t": "i32"|"blob", "v": int | hex} as JSON, or null when the key is absent. */
  get(ns, key) {
    const p = this.pending.get(ns);
    if (p && p.has(key)) {
      const v = p.get(key);
      return v === null ? null : JSON.stringify(v);
    }
    const c = this.committed[ns];
    return c && key in c ? JSON.stringify(c[key]) : null;
  }

  set(ns, key, value) {
    if (!this.pending.has(ns)) this.pending.set(ns, new Map());
    this.pending.get(ns).set(key, value);
  }

  erase(ns, key) {
    const exists = this.get(ns, key) !== null;
    if (exists) this.set(ns, key, null);
    return exists;
  }

  commit(ns) {
    const p = this.pending.get(ns);
    if (!p || !p.size) return;
    const c = (this.committed[ns] ??= {});
    for (const [k, v] of p) {
      if (v === null) delete c[k];
      else c[k] = v;
    }
    p.clear();
    const tmp = `${this.file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.committed));
    fs.renameSync(tmp, this.file);
  }
}
