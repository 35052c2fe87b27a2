// The board's flash filesystem with LittleFS's power-loss behaviour.
//
// The VM works on an in-memory copy (Emscripten MEMFS under ROOT). What is durable lives in a
// host directory and changes only the way LittleFS commits: a file's contents when it is
// closed or flushed, a new file (empty) when it is created, and rename/remove/mkdir/rmdir
// at once and atomically. A power cut (the worker being terminated) loses exactly the
// uncommitted in-memory state; the next boot starts from the host directory.
import fs from "node:fs";
import path from "node:path";

export const ROOT = "/flash";
const O_ACCMODE = 3;
const O_CREAT = 0o100;

export const DEFAULT_BOOT_PY =
  "# This file is executed on every boot (including wake-boot from deepsleep)\n" +
  "#import esp\n#esp.osdebug(None)\n#import webrepl\n#webrepl.start()\n";

export class Flash {
  constructor(dir) {
    this.dir = dir;
    this.tmp = `${dir}.tmp`;
    fs.mkdirSync(dir, { recursive: true });
    fs.mkdirSync(this.tmp, { recursive: true });
    this.commits = 0;
    if (!fs.existsSync(path.join(dir, ".formatted"))) {
      // A fresh board: MicroPython formats the filesystem and writes boot.py on first boot
      // (unless an image was flashed there already).
      if (fs.readdirSync(dir).length === 0) this.writeAtomic(path.join(dir, "boot.py"), Buffer.from(DEFAULT_BOOT_PY));
      fs.writeFileSync(path.join(dir, ".formatted"), "");
    }
  }

  /** Host path for a VM path under ROOT, or null if the path is elsewhere. */
  host(vmPath) {
    if (typeof vmPath !== "string") return null;
    const p = path.posix.normalize(vmPath);
    if (p === ROOT) return this.dir;
    if (!p.startsWith(ROOT + "/")) return null;
    const rel = p.slice(ROOT.length + 1);
    if (rel === ".formatted") return null;
    return path.join(this.dir, rel);
  }

  writeAtomic(hostPath, data) {
    const t = path.join(this.tmp, `w${process.pid}-${this.commits}`);
    fs.writeFileSync(t, data);
    fs.renameSync(t, hostPath);
    this.commits++;
  }

  /** Copy the durable tree into a fresh VM's MEMFS. */
  populate(FS) {
    FS.mkdirTree(ROOT);
    const walk = (hostDir, vmDir) => {
      for (const ent of fs.readdirSync(hostDir, { withFileTypes: true })) {
        if (vmDir === ROOT && ent.name === ".formatted") continue;
        const h = path.join(hostDir, ent.name);
        const v = `${vmDir}/${ent.name}`;
        if (ent.isDirectory()) {
          FS.mkdir(v);
          walk(h, v);
        } else if (ent.isFile()) {
          FS.writeFile(v, fs.readFileSync(h));
        }
      }
    };
    walk(this.dir, ROOT);
  }

  commitFile(FS, vmPath) {
    const h = this.host(vmPath);
    if (!h) return;
    let data;
    try {
      data = FS.readFile(vmPath);
    } catch {
      return; // removed meanwhile: nothing to commit
    }
    this.writeAtomic(h, data);
  }

  /** Wrap the Emscripten FS calls the VM's VFS uses so durable state follows LittleFS rules. */
  install(FS) {
    const self = this;
    const orig = {
      open: FS.open, close: FS.close, rename: FS.rename, unlink: FS.unlink, rmdir: FS.rmdir, mkdir: FS.mkdir,
    };
    FS.open = function (p, flags, mode) {
      let created = false;
      if (typeof flags === "number" && flags & O_CREAT && typeof p === "string") {
        try {
          FS.lookupPath(p);
        } catch {
          created = true;
        }
      }
      const stream = orig.open.call(FS, p, flags, mode);
      if (typeof flags === "number" && (flags & O_ACCMODE) !== 0 && self.host(stream.path)) {
        stream.cnDirty = true;
        if (created) self.writeAtomic(self.host(stream.path), new Uint8Array(0));
      }
      return stream;
    };
    FS.close = function (stream) {
      const dirty = stream.cnDirty;
      let p = null;
      if (dirty) {
        try {
          p = FS.getPath(stream.node);
        } catch {
          p = null;
        }
      }
      const r = orig.close.call(FS, stream);
      if (dirty && p) self.commitFile(FS, p);
      return r;
    };
    FS.rename = function (a, b) {
      const r = orig.rename.call(FS, a, b);
      const ha = self.host(a);
      const hb = self.host(b);
      if (ha && hb && fs.existsSync(ha)) {
        fs.renameSync(ha, hb);
        self.commits++;
      }
      return r;
    };
    FS.unlink = function (p) {
      const r = orig.unlink.call(FS, p);
      const h = self.host(p);
      if (h) fs.rmSync(h, { force: true });
      return r;
    };
    FS.rmdir = function (p) {
      const r = orig.rmdir.call(FS, p);
      const h = self.host(p);
      if (h) fs.rmSync(h, { recursive: true, force: true });
      return r;
    };
    FS.mkdir = function (p, mode) {
      const r = orig.mkdir.call(FS, p, mode);
      const h = self.host(p);
      if (h) fs.mkdirSync(h, { recursive: true });
      return r;
    };
    // fsync (f.flush()) commits too; called from the fd_sync import wrapper.
    this.fsync = (fd) => {
      try {
        const s = FS.getStream(fd);
        if (s && s.cnDirty) self.commitFile(FS, FS.getPath(s.node));
      } catch {
        /* not a file of ours */
      }
    };
  }
}
