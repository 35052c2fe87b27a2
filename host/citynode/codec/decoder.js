/*@HEADER@*/

// Registry data (channels, profiles, intervals, status names), generated from
// protocol/registry.toml. Do not edit: regenerate with `citynode codec export`.
var CITYNODE = /*@TABLES@*/null;

// Everything below is the fixed parsing logic of protocol/SPEC.md v1, written once.
// ES5.1 only: it runs in The Things Stack and in ChirpStack v4 (QuickJS).

var CN_TAG_LENS = [4, 8, 16];
var CN_MAX_FRAME = 255;
var CN_MIN_HEAD = 7;

// A decoding failure: `reason` is one of SPEC.md section 5 (or "encrypted").
function cnFail(reason, message) {
  return { cnReason: reason, message: message };
}

function cnHex(value, digits) {
  var s = value.toString(16);
  while (s.length < digits) {
    s = "0" + s;
  }
  return s;
}

// Big-endian unsigned integer from bytes[start .. start+count-1]; exact up to 32 bits
// because it multiplies instead of shifting (JS bit operators are signed 32-bit).
function cnUint(bytes, start, count) {
  var v = 0;
  for (var i = 0; i < count; i++) {
    v = v * 256 + bytes[start + i];
  }
  return v;
}

// Reads the bit-packed section MSB first. `take` fails with `malformed`, `sample` with
// `truncated_sample` (inside a series), as SPEC.md section 3.2 requires.
function CnBits(bytes, start, end) {
  this.bytes = bytes;
  this.pos = start * 8;
  this.end = end * 8;
}

CnBits.prototype.read = function (width, reason, what) {
  if (width > this.end - this.pos) {
    throw cnFail(reason, reason === "truncated_sample" ?
      "the frame ends inside a series (" + what + ")" :
      "the frame ends inside the packed section (reading " + what + ")");
  }
  var v = 0;
  for (var i = 0; i < width; i++) {
    var p = this.pos + i;
    v = v * 2 + ((this.bytes[p >> 3] >> (7 - (p & 7))) & 1);
  }
  this.pos += width;
  return v;
};

CnBits.prototype.take = function (width, what) {
  return this.read(width, "malformed", what);
};

CnBits.prototype.sample = function (width, what) {
  return this.read(width, "truncated_sample", what);
};

// The display value of a raw integer: (offset + raw * scale) computed in integer units of
// 10^-decimals, then divided once, so it equals Python's round(value, decimals).
function cnValue(ch, raw) {
  if (ch.unit === "bool") {
    return raw !== 0;
  }
  var units = ch.offset_u + raw * ch.scale_u;
  return ch.decimals === 0 ? units : units / ch.div;
}

function cnCheckRange(ch, raw, what) {
  if (raw < ch.raw_min || raw > ch.raw_max) {
    throw cnFail("value_out_of_range", what + ": raw " + raw + " is outside [" + ch.min + ", " +
      ch.max + "] " + ch.unit);
  }
}

function cnStatus(sbyte, ebyte) {
  var error = null;
  if (ebyte !== null) {
    var sub = ebyte >> 4;
    var name = CITYNODE.error_subsystems[sub];
    error = { subsystem: name ? name : "subsystem_" + sub, code: ebyte & 15 };
  }
  return {
    low_battery: (sbyte & 1) !== 0,
    sensor_fault: (sbyte & 2) !== 0,
    reset_cause: CITYNODE.reset_causes[(sbyte >> 2) & 7],
    duty_limited: (sbyte & 0x20) !== 0,
    counter_jump: (sbyte & 0x40) !== 0,
    error: error
  };
}

function cnSeries(ch, bits, data, recvTime) {
  var db = ch.delta_bits;
  var escape = Math.pow(2, db - 1);
  var n = bits.sample(4, ch.name + " sample count") + 1;
  var code = bits.sample(3, ch.name + " interval");
  if (code >= CITYNODE.intervals_s.length) {
    throw cnFail("malformed", ch.name + ": interval code " + code + " is not in the registry");
  }
  var interval = CITYNODE.intervals_s[code];
  var raws = [bits.sample(ch.bits, ch.name + " sample 0")];
  for (var i = 1; i < n; i++) {
    var d = bits.sample(db, ch.name + " sample " + i);
    var raw;
    if (d === escape) {
      raw = bits.sample(ch.bits, ch.name + " sample " + i);
    } else {
      raw = raws[i - 1] + (d >= escape ? d - 2 * escape : d);
    }
    cnCheckRange(ch, raw, ch.name + " sample " + i);
    raws.push(raw);
  }
  cnCheckRange(ch, raws[0], ch.name + " sample 0");
  var values = [];
  var offsets = [];
  for (var j = 0; j < n; j++) {
    values.push(cnValue(ch, raws[j]));
    offsets.push((n - 1 - j) * interval);
  }
  var meta = { interval_s: interval, samples: n, offset_s: offsets };
  if (recvTime !== null) {
    var times = [];
    for (var k = 0; k < n; k++) {
      times.push(new Date(recvTime - offsets[k] * 1000).toISOString());
    }
    meta.times = times;
  }
  data.readings[ch.name] = values;
  data.units[ch.name] = ch.unit;
  data.series[ch.name] = meta;
}

function cnScalar(ch, bits, data) {
  var raw = bits.take(ch.bits, ch.name);
  cnCheckRange(ch, raw, ch.name);
  data.readings[ch.name] = cnValue(ch, raw);
  data.units[ch.name] = ch.unit;
}

// Status byte, error byte and packed section (SPEC.md section 3).
function cnBody(bytes, start, end, hasStatus, data, recvTime) {
  var pos = start;
  data.status = cnStatus(0, null);
  if (hasStatus) {
    var sbyte = bytes[pos];
    var ebyte = null;
    pos += 1;
    if (sbyte & 0x80) {
      if (pos >= end) {
        throw cnFail("malformed", "the status byte announces an error byte that is missing");
      }
      ebyte = bytes[pos];
      pos += 1;
    }
    data.status = cnStatus(sbyte, ebyte);
  }
  if (pos >= end) {
    throw cnFail("malformed", "the packed section is empty");
  }
  var bits = new CnBits(bytes, pos, end);
  var pid = bits.take(3, "the profile");
  var i, ch;
  var prof = pid === 0 ? null : CITYNODE.profiles[pid];
  if (pid !== 0 && !prof) {
    throw cnFail("malformed", "profile " + pid + " is not in the registry (reserved)");
  }
  data.profile = prof ? prof.name : "generic";
  data.profile_id = pid;
  data.readings = {};
  data.units = {};
  data.series = {};
  if (pid === 0) {
    var k = bits.take(6, "the generic channel count");
    if (k > CITYNODE.channels.length) {
      throw cnFail("malformed", "generic frame lists " + k + " channels; the registry has ids 0.." +
        (CITYNODE.channels.length - 1));
    }
    var present = [];
    for (i = 0; i < k; i++) {
      if (bits.take(1, "the presence bits")) {
        present.push(i);
      }
    }
    for (i = 0; i < present.length; i++) {
      ch = CITYNODE.channels[present[i]];
      if (!ch) {
        throw cnFail("malformed", "channel id " + present[i] + " is not in the registry");
      }
      cnScalar(ch, bits, data);
    }
  } else {
    var chans = [];
    for (i = 0; i < prof.channels.length; i++) {
      if (bits.take(1, "the presence bits")) {
        chans.push(prof.channels[i]);
      }
    }
    for (i = 0; i < chans.length; i++) {
      if (!prof.series[chans[i]]) {
        cnScalar(CITYNODE.channels[chans[i]], bits, data);
      }
    }
    for (i = 0; i < chans.length; i++) {
      if (prof.series[chans[i]]) {
        cnSeries(CITYNODE.channels[chans[i]], bits, data, recvTime);
      }
    }
  }
  var left = bits.end - bits.pos;
  if (left >= 8) {
    throw cnFail("malformed", Math.floor(left / 8) + " byte(s) follow the packed section");
  }
  if (left > 0 && bits.read(left, "malformed", "the padding") !== 0) {
    throw cnFail("malformed", "the padding bits are not zero");
  }
}

// Header, device id and counter (SPEC.md section 1 and section 5 steps 1-4), then the body.
function cnFrame(bytes, data, recvTime) {
  var n = bytes.length;
  if (n < CN_MIN_HEAD) {
    throw cnFail("too_short", n + " bytes; a frame has at least " + CN_MIN_HEAD + " before its body and tag");
  }
  if (n > CN_MAX_FRAME) {
    throw cnFail("too_long", n + " bytes; a LoRa frame has at most " + CN_MAX_FRAME);
  }
  var head = bytes[0];
  if (head >> 6 !== 1) {
    throw cnFail("unknown_version", "header version bits are " + cnHex(head >> 6, 1) +
      "; this decoder knows protocol v1");
  }
  var tagCode = (head >> 3) & 3;
  if ((head & 1) !== 0 || tagCode === 3) {
    throw cnFail("reserved_bit", "the header sets a reserved bit or the reserved tag length 11");
  }
  var tagLen = CN_TAG_LENS[tagCode];
  var longCounter = (head & 4) !== 0;
  var headLen = longCounter ? 9 : 7;
  if (n < headLen + 1 + tagLen) {
    throw cnFail("too_short", n + " bytes; this header needs at least " + (headLen + 1 + tagLen));
  }
  data.protocol_version = 1;
  data.device_id = cnHex(cnUint(bytes, 1, 4), 8);
  data.counter = cnUint(bytes, 5, headLen - 5);
  data.counter_bits = longCounter ? 32 : 16;
  data.encrypted = (head & 0x20) !== 0;
  data.tag_len = tagLen;
  data.tag_verified = false;
  if (data.encrypted) {
    throw cnFail("encrypted", "decode it with the citynode backend (needs the device key)");
  }
  cnBody(bytes, headLen, n - tagLen, (head & 2) !== 0, data, recvTime);
}

// Milliseconds since the epoch of a receive time (a Date, an ISO string or a number), or null.
function cnTime(t) {
  var ms = null;
  if (t && typeof t.getTime === "function") {
    ms = t.getTime();
  } else if (typeof t === "string") {
    ms = Date.parse(t);
  } else if (typeof t === "number") {
    ms = t;
  }
  return ms === null || isNaN(ms) ? null : ms;
}

// Entry point for The Things Stack and ChirpStack v4.
function decodeUplink(input) {
  var data = {};
  var warnings = [CITYNODE.tag_warning];
  var errors = [];
  var bytes = input && input.bytes ? input.bytes : [];
  var recvTime = input ? cnTime(input.recvTime) : null;
  try {
    cnFrame(bytes, data, recvTime);
    var vars = input && input.variables ? input.variables : {};
    var expected = vars.citynode_device_id;
    if (expected && String(expected).toLowerCase() !== data.device_id) {
      warnings.push("device id " + data.device_id + " is not the citynode_device_id variable (" +
        expected + "): check which node this LoRaWAN device carries");
    }
  } catch (e) {
    if (!e || !e.cnReason) {
      throw e;
    }
    errors.push(e.cnReason === "encrypted" ? "encrypted frame: " + e.message :
      e.cnReason + ": " + e.message);
  }
  return { data: data, warnings: warnings, errors: errors };
}
