"""A JavaScript payload formatter for LoRaWAN network servers, generated from the registry.

Towns that let The Things Stack or ChirpStack v4 decode payloads paste the output of
`citynode codec export --target ttn|chirpstack`. The parsing logic is the fixed template
decoder.js (ES5.1, no modules, under 40 KB); the registry's channels, profiles, series
intervals, reset causes and error subsystems are embedded as data, so regenerating after
a registry change is all it takes to stay in step with citynode.protocol.decode.

The network server has no citynode keys, so the formatter cannot check tags: every
result carries the warning `tables.TAG_WARNING`, and encrypted frames (ENC=1) are an
error ("encrypted frame: ...").

`decodeUplink(input)` takes {bytes, fPort, recvTime (Date, optional), variables
(ChirpStack, optional)} and returns {data, warnings, errors}. Errors are strings
"<reason>: <what is wrong>", with the reasons of SPEC.md section 5 that need no key
(too_short, too_long, unknown_version, reserved_bit, malformed, truncated_sample,
value_out_of_range), or "encrypted frame: ...". For a valid frame, `data` is:

    {
      "protocol_version": 1,
      "device_id": "0000002a",        8 lowercase hex digits
      "counter": 513,                 the counter as sent on air ...
      "counter_bits": 16,             ... 16 low bits, or 32 for a long-counter frame
      "encrypted": false,
      "tag_len": 8,
      "tag_verified": false,          always false: see warnings
      "profile": "noise",             registry profile name, or "generic"
      "profile_id": 3,
      "status": {"low_battery": false, "sensor_fault": false, "reset_cause": "none",
                 "duty_limited": false, "counter_jump": false,
                 "error": null | {"subsystem": "radio", "code": 3}},
      "readings": {"battery_v": 3.71, "laeq": [54.2, 55.0, 61.3]},
      "units": {"battery_v": "V", "laeq": "dB(A)"},
      "series": {"laeq": {"interval_s": 60, "samples": 3, "offset_s": [120, 60, 0],
                          "times": ["2026-...Z", ...]}}
    }

Scalar readings are numbers rounded to the channel's decimals (booleans for unit "bool"),
series readings are lists in time order; `offset_s` is each sample's age in seconds
before the frame was sent, and `times` (present when the input has recvTime) are the
sample times that implies. `readings` equals DecodedFrame.values() of the Python decoder,
and `status` equals Status.to_json().
"""

from __future__ import annotations

from citynode.codec.render import MAX_BYTES, TARGETS, generate
from citynode.codec.tables import TAG_WARNING

__all__ = ["MAX_BYTES", "TAG_WARNING", "TARGETS", "generate"]
