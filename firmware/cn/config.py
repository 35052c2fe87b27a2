"""The node's configuration: one JSON file (/config.json), validated at boot.

A missing, unreadable or invalid file is not a crash: `load` returns the reason and the
node goes to service mode. Writes are atomic (temp file then os.rename, done by
cn.store's commit journal). Keys and the device id are never here (NVS, cn.store).

Schema (version 1; defaults in brackets):
    kind        "soil" | "air" | "noise" | "parking"
    period_s    seconds between frames: 60..86400 [900]; noise: send period 60..3600 [600]
    sensors     list of {"type": driver name, ...driver options and calibration}, 1..6
    region      "EU868" | "US915" [EU868]
    radio       {"freq_khz", "sf", "bw_khz" (125|250|500), "power_dbm", "cr" (5..8)}
                [the region's defaults]
    tag_len     4 | 8 | 16 [8]
    encrypt     bool [false]
    sinks       list of "lora" | "console" [["lora"]]
    low_batt_v  low-battery threshold in volts, 2.5..4.2 [3.4]
    heartbeat_s parking: a frame at least this often without a change, 600..86400 [21600]
    sample_s    parking: magnetometer poll period, 5..3600 [30];
                noise: series interval, one of the registry intervals [60]
    duty_pct    duty-cycle budget in percent, at most the region's [region's]
    window_ms   service-mode wake-up window after reset, 0..10000 [2000]
"""

import json
import os

from cn import registry as R
from cn.region import DEFAULT, REGIONS

PATH = "/config.json"
MAX_BYTES = 4096
KINDS = {"soil": R.PROFILE_SOIL, "air": R.PROFILE_AIR, "noise": R.PROFILE_NOISE, "parking": R.PROFILE_PARKING}
_TOP = ("version", "kind", "period_s", "sensors", "region", "radio", "tag_len", "encrypt", "sinks",
        "low_batt_v", "heartbeat_s", "sample_s", "duty_pct", "window_ms")
_RADIO = ("freq_khz", "sf", "bw_khz", "power_dbm", "cr")


class ConfigError(ValueError):
    pass


def _int(cfg, name, lo, hi, default):
    v = cfg.get(name, default)
    if type(v) is not int or v < lo or v > hi:
        raise ConfigError("%s must be an integer in %d..%d" % (name, lo, hi))
    return v


def max_frame_len(kind, tag_len, samples=1):
    """Worst-case frame length of a node kind (long counter, status and error byte)."""
    p = KINDS[kind]
    chans = R.PROFILES[p]
    bits = 3 + len(chans)
    for ch in chans:
        if ch in R.PROFILE_SERIES[p]:
            bits += 4 + 3 + R.BITS[ch] + (samples - 1) * (R.DELTA_BITS[ch] + R.BITS[ch])
        else:
            bits += R.BITS[ch]
    return 1 + 4 + 4 + 2 + (bits + 7) // 8 + tag_len


def validate(cfg, known_sensor=None):
    """A normalised copy of cfg with defaults filled in; ConfigError says what is wrong.

    `known_sensor(type) -> bool` checks driver names (None: any name)."""
    if type(cfg) is not dict:
        raise ConfigError("config must be a JSON object")
    for k in cfg:
        if k not in _TOP:
            raise ConfigError("unknown field %s" % k)
    if cfg.get("version", 1) != 1:
        raise ConfigError("version must be 1")
    kind = cfg.get("kind")
    if kind not in KINDS:
        raise ConfigError("kind must be one of soil, air, noise, parking")
    out = {"version": 1, "kind": kind}
    if kind == "noise":
        out["period_s"] = _int(cfg, "period_s", 60, 3600, 600)
    else:
        out["period_s"] = _int(cfg, "period_s", 60, 86400, 900)
    sensors = cfg.get("sensors")
    if type(sensors) is not list or not 1 <= len(sensors) <= 6:
        raise ConfigError("sensors must be a list of 1..6 sensors")
    for s in sensors:
        if type(s) is not dict or type(s.get("type")) is not str:
            raise ConfigError("each sensor needs a \"type\"")
        if known_sensor is not None and not known_sensor(s["type"]):
            raise ConfigError("unknown sensor type %s" % s["type"])
    out["sensors"] = sensors
    region = cfg.get("region", DEFAULT)
    if region not in REGIONS:
        raise ConfigError("region must be one of " + ", ".join(sorted(REGIONS)))
    out["region"] = region
    reg = REGIONS[region]
    radio = cfg.get("radio", {})
    if type(radio) is not dict:
        raise ConfigError("radio must be an object")
    for k in radio:
        if k not in _RADIO:
            raise ConfigError("unknown radio field %s" % k)
    r = {
        "freq_khz": _int(radio, "freq_khz", reg["freq_min"], reg["freq_max"], reg["freq_khz"]),
        "sf": _int(radio, "sf", reg["sf_min"], reg["sf_max"], reg["sf"]),
        "bw_khz": _int(radio, "bw_khz", 125, 500, 125),
        "power_dbm": _int(radio, "power_dbm", -4, reg["power_max"], reg["power_dbm"]),
        "cr": _int(radio, "cr", 5, 8, 5),
    }
    if r["bw_khz"] not in (125, 250, 500):
        raise ConfigError("radio.bw_khz must be 125, 250 or 500")
    out["radio"] = r
    tag = cfg.get("tag_len", 8)
    if tag not in (4, 8, 16) or type(tag) is not int:
        raise ConfigError("tag_len must be 4, 8 or 16")
    out["tag_len"] = tag
    enc = cfg.get("encrypt", False)
    if type(enc) is not bool:
        raise ConfigError("encrypt must be true or false")
    out["encrypt"] = enc
    sinks = cfg.get("sinks", ["lora"])
    if type(sinks) is not list or not sinks or any(s not in ("lora", "console") for s in sinks):
        raise ConfigError("sinks must be a non-empty list of \"lora\" and/or \"console\"")
    out["sinks"] = sinks
    v = cfg.get("low_batt_v", 3.4)
    if type(v) not in (int, float) or not 2.5 <= v <= 4.2:
        raise ConfigError("low_batt_v must be a number in 2.5..4.2")
    out["low_batt_v"] = v
    out["heartbeat_s"] = _int(cfg, "heartbeat_s", 600, 86400, 21600)
    if kind == "noise":
        sample = _int(cfg, "sample_s", 1, 3600, 60)
        if R.interval_code(sample) < 0:
            raise ConfigError("sample_s must be one of %s for noise" % (R.INTERVALS_S,))
        if out["period_s"] % sample or not 1 <= out["period_s"] // sample <= R.MAX_SAMPLES:
            raise ConfigError("noise period_s must be 1..%d whole sample_s" % R.MAX_SAMPLES)
    else:
        sample = _int(cfg, "sample_s", 5, 3600, 30)
    out["sample_s"] = sample
    duty_max = reg["duty_ms_per_hour"] / 36000
    d = cfg.get("duty_pct", duty_max if duty_max else 100)
    if type(d) not in (int, float) or d <= 0 or (duty_max and d > duty_max) or d > 100:
        raise ConfigError("duty_pct must be in (0, %s]" % (duty_max or 100))
    out["duty_pct"] = d
    out["window_ms"] = _int(cfg, "window_ms", 0, 10000, 2000)
    samples = out["period_s"] // sample if kind == "noise" else 1
    need = max_frame_len(kind, tag, samples)
    limit = reg["max_payload"][r["sf"]]
    if need > limit:
        raise ConfigError("a %s frame can take %d bytes; %s at SF%d carries %d: lower sf or tag_len%s"
                          % (kind, need, region, r["sf"], limit, ", or fewer samples" if kind == "noise" else ""))
    if reg["dwell_ms"]:
        from cn.duty import airtime_ms

        t = airtime_ms(need, r["sf"], r["bw_khz"], r["cr"])
        if t > reg["dwell_ms"]:
            raise ConfigError("a %s frame takes %d ms on air at SF%d; %s allows %d ms per transmission: lower sf"
                              % (kind, t, r["sf"], region, reg["dwell_ms"]))
    return out


def load(path=PATH, known_sensor=None):
    """(config, None) or (None, reason): never raises."""
    try:
        size = os.stat(path)[6]
    except OSError:
        return None, "no config"
    if size > MAX_BYTES:
        return None, "config too large"
    try:
        with open(path) as f:
            cfg = json.loads(f.read())
    except Exception:  # noqa: BLE001 - a torn or corrupt file is a reason, not a crash
        return None, "config unreadable"
    try:
        return validate(cfg, known_sensor), None
    except ConfigError as e:
        return None, "config invalid: " + str(e.args[0])
