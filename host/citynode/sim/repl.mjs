// The MicroPython console as pyexec.c implements it on the ESP32 port: the friendly REPL
// (readline with auto-indent, paste mode), the raw REPL and raw-paste mode. It runs in the
// worker and reads the serial RX ring directly, so a program's own stdin reads and the REPL
// see the same byte stream, as on a board.
const CTRL_A = 1, CTRL_B = 2, CTRL_C = 3, CTRL_D = 4, CTRL_E = 5;
const RAW_PASTE_WINDOW = 256; // MICROPY_REPL_STDIN_BUFFER_MAX on the ESP32 port
const COMPOUND = /^(if|while|for|try|with|def|class|async)\b|^@/;

/** mp_repl_continue_with_input(): does this input need more lines? */
export function needsMore(input) {
  if (!input.trim()) return false;
  const compound = COMPOUND.test(input);
  let depth = 0;
  let q = null; // current quote: ', ", ''' or """
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    if (q) {
      if (c === "\\") {
        i++;
        continue;
      }
      if (q.length === 3 ? input.startsWith(q, i) : c === q) {
        i += q.length - 1;
        q = null;
      } else if (q.length === 1 && c === "\n") {
        q = null;
      }
      continue;
    }
    if (c === "#") {
      while (i < input.length && input[i] !== "\n") i++;
    } else if (c === "'" || c === '"') {
      q = input.startsWith(c.repeat(3), i) ? c.repeat(3) : c;
      i += q.length - 1;
    } else if ("([{".includes(c)) depth++;
    else if (")]}".includes(c)) depth--;
  }
  if (q && q.length === 3) return true;
  if (depth > 0) return true;
  if (input.endsWith("\\")) return true;
  return compound && !input.endsWith("\n");
}

export class Repl {
  /** io: {getc(), out(str), exec(src, mode, filename) -> null | {type, text}, banner} */
  constructor(io) {
    this.io = io;
    this.mode = "friendly";
  }

  out(s) {
    this.io.out(s);
  }

  /** Run the console until a soft reboot is wanted; returns "soft". */
  run() {
    for (;;) {
      const r = this.mode === "raw" ? this.raw() : this.friendly();
      if (r === "soft") return "soft";
    }
  }

  // ------------------------------------------------------------------ friendly REPL
  friendly() {
    this.out(`${this.io.banner}\r\nType "help()" for more information.\r\n`);
    for (;;) {
      const r = this.readline(">>> ", "");
      if (r === CTRL_A) {
        this.out("\r\n");
        this.mode = "raw";
        return "mode";
      }
      if (r === CTRL_B) {
        this.out("\r\n");
        return "mode";
      }
      if (r === CTRL_C) {
        this.out("\r\n");
        continue;
      }
      if (r === CTRL_D) {
        this.out("\r\n");
        return "soft";
      }
      if (r === CTRL_E) {
        const src = this.paste();
        if (src === null) continue;
        if (this.runAndReport(src, "exec", false) === "soft") return "soft";
        continue;
      }
      let input = r;
      if (!input.trim()) continue;
      let cancelled = false;
      while (needsMore(input)) {
        const last = input.slice(input.lastIndexOf("\n") + 1);
        let indent = last.match(/^ */)[0].length;
        if (last.trimEnd().endsWith(":")) indent += 4;
        const more = this.readline("... ", " ".repeat(indent));
        if (more === CTRL_C) {
          this.out("\r\n");
          cancelled = true;
          break;
        }
        if (more === CTRL_D) {
          this.out("\r\n");
          break;
        }
        if (typeof more !== "string") continue;
        input += "\n" + (more.trim() ? more : "");
      }
      if (cancelled) continue;
      if (this.runAndReport(input, "single", false) === "soft") return "soft";
    }
  }

  /** Read one line with echo and minimal editing; returns the text or a control code. */
  readline(prompt, indent) {
    this.out(prompt + indent);
    let line = indent;
    let esc = 0;
    const utf = [];
    for (;;) {
      const c = this.io.getc();
      if (esc) {
        // swallow VT100 sequences (arrows, home/end): ESC [ ... final
        if (esc === 1) esc = c === 0x5b || c === 0x4f ? 2 : 0;
        else if ((c >= 0x40 && c <= 0x7e) || c === 0x7e) esc = 0;
        continue;
      }
      const empty = line === indent;
      if (c === 0x1b) esc = 1;
      else if ((c === CTRL_A || c === CTRL_B || c === CTRL_D || c === CTRL_E) && empty && indent === "") return c;
      else if (c === CTRL_D && empty) return c;
      else if (c === CTRL_C) return c;
      else if (c === 0x0d) {
        this.out("\r\n");
        return line;
      } else if (c === 0x08 || c === 0x7f) {
        if (line.length) {
          line = line.slice(0, -1);
          this.out("\b\x1b[K");
        }
      } else if (c >= 0x20 && c < 0x7f) {
        line += String.fromCharCode(c);
        this.out(String.fromCharCode(c));
      } else if (c >= 0x80) {
        utf.push(c);
        const s = Buffer.from(utf).toString("utf8");
        if (!s.includes("\ufffd")) {
          line += s;
          this.out(s);
          utf.length = 0;
        } else if (utf.length >= 4) utf.length = 0;
      }
      // other control characters (tab completion, \n, ...) are ignored
    }
  }

  paste() {
    this.out("\r\npaste mode; Ctrl-C to cancel, Ctrl-D to finish\r\n=== ");
    const buf = [];
    let lastCr = false;
    for (;;) {
      const c = this.io.getc();
      if (c === CTRL_C) {
        this.out("\r\n");
        return null;
      }
      if (c === CTRL_D) {
        this.out("\r\n");
        return Buffer.from(buf).toString("utf8");
      }
      if (c === 0x0d || (c === 0x0a && !lastCr)) {
        buf.push(0x0a);
        this.out("\r\n=== ");
      } else if (c !== 0x0a) {
        buf.push(c);
        this.io.outBytes(Uint8Array.of(c));
      }
      lastCr = c === 0x0d;
    }
  }

  /** Execute, print the traceback if any; "soft" when the code asked for a soft reboot. */
  runAndReport(src, mode, eof) {
    const exc = this.io.exec(src, mode, "<stdin>");
    if (eof) this.out("\x04");
    if (exc && exc.type === "SystemExit") {
      if (eof) this.out("\x04");
      return "soft";
    }
    if (exc) this.out(exc.text.replace(/\r?\n/g, "\r\n"));
    if (eof) this.out("\x04");
    return null;
  }

  // ------------------------------------------------------------------ raw REPL
  raw() {
    this.out("raw REPL; CTRL-B to exit\r\n");
    for (;;) {
      this.out(">");
      let line = [];
      let reset = false;
      for (;;) {
        const c = this.io.getc();
        if (c === CTRL_A) {
          if (line.length === 2 && line[0] === CTRL_E) {
            const r = this.rawPaste(line[1]);
            if (r === "soft") return "soft";
            line = null;
            break;
          }
          reset = true;
          break;
        } else if (c === CTRL_B) {
          this.out("\r\n");
          this.mode = "friendly";
          return "mode";
        } else if (c === CTRL_C) {
          line = [];
        } else if (c === CTRL_D) {
          break;
        } else {
          line.push(c);
        }
      }
      if (reset) return "mode"; // re-enter: prints the banner again
      if (line === null) continue;
      this.out("OK");
      if (line.length === 0) {
        this.out("\r\n");
        return "soft";
      }
      const src = Buffer.from(line).toString("utf8");
      if (this.runAndReport(src, "exec", true) === "soft") return "soft";
    }
  }

  rawPaste(cmd) {
    if (cmd !== 0x41) {
      this.out("R\x00");
      return null;
    }
    this.out("R\x01");
    this.io.outBytes(Uint8Array.of(RAW_PASTE_WINDOW & 0xff, RAW_PASTE_WINDOW >> 8));
    const buf = [];
    let window = RAW_PASTE_WINDOW;
    for (;;) {
      const c = this.io.getc();
      if (c === CTRL_D) {
        this.out("\x04");
        break;
      }
      if (c === CTRL_C) {
        // abort: tell the host the transfer ended, then discard its data
        this.out("\x04");
        return null;
      }
      buf.push(c);
      if (--window === 0) {
        this.out("\x01");
        window = RAW_PASTE_WINDOW;
      }
    }
    const src = Buffer.from(buf).toString("utf8");
    return this.runAndReport(src, "exec", true);
  }
}
