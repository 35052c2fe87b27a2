"""Parsing what gateways and network servers send: the frame bytes and the reception metadata."""

from __future__ import annotations

import base64
import json

import pytest

from citynode.backend.formats import FormatError, detect, parse_json, parse_line
from citynode.backend.timeutil import iso, parse_time

FRAME = bytes.fromhex("4c0000002a000000013ea8f5a7dec379e63e9510a4")
B64 = base64.b64encode(FRAME).decode()

# Shaped after ChirpStack v4's integration UplinkEvent (JSON field names of the protobuf).
CHIRPSTACK_UP = {
    "deduplicationId": "3ac7e3c4-4401-4b8d-9386-a5c902f9202d",
    "time": "2026-11-25T09:34:15.775023242+00:00",
    "deviceInfo": {"tenantName": "ChirpStack", "applicationName": "city", "deviceName": "soil-1",
                   "devEui": "0101010101010101"},
    "devAddr": "00189440", "dr": 5, "fCnt": 10, "fPort": 1, "data": B64,
    "rxInfo": [
        {"gatewayId": "0016C001F153A14C", "uplinkId": 4217106255, "rssi": -36, "snr": 10.5,
         "gwTime": "2026-11-25T09:34:15.770Z"},
        {"gatewayId": "0016c001f153a14d", "uplinkId": 17, "rssi": -101, "snr": -3.25},
    ],
    "txInfo": {"frequency": 868100000, "modulation": {"lora": {"bandwidth": 125000, "spreadingFactor": 7,
                                                               "codeRate": "CR_4_5"}}},
}

# Shaped after The Things Stack v3 uplink message (data formats documentation).
TTS_UP = {
    "end_device_ids": {"device_id": "soil-1", "application_ids": {"application_id": "city"},
                       "dev_eui": "0004A30B001C0530"},
    "correlation_ids": ["gs:uplink:01H", "as:up:01HABC"],
    "received_at": "2026-11-25T09:34:16.1Z",
    "uplink_message": {
        "f_port": 1, "f_cnt": 42, "frm_payload": B64,
        "rx_metadata": [{"gateway_ids": {"gateway_id": "gw-townhall", "eui": "B827EBFFFE000001"},
                         "time": "2026-11-25T09:34:15.9Z", "rssi": -50, "channel_rssi": -50, "snr": 9.5}],
        "settings": {"data_rate": {"lora": {"bandwidth": 125000, "spreading_factor": 9}},
                     "frequency": "867500000"},
        "received_at": "2026-11-25T09:34:16.000123456Z",
    },
}


def test_chirpstack_uplink_gives_frame_and_every_gateway() -> None:
    [up] = parse_json(CHIRPSTACK_UP)
    assert up.frame == FRAME and up.problem is None
    assert [r.gateway for r in up.receptions] == ["0016c001f153a14c", "0016c001f153a14d"]
    first = up.receptions[0]
    assert (first.rssi, first.snr, first.freq_mhz, first.datr) == (-36, 10.5, 868.1, "SF7BW125")
    assert first.rx_id == CHIRPSTACK_UP["deduplicationId"]
    assert first.time == pytest.approx(parse_time("2026-11-25T09:34:15.775023Z"))
    assert first.source == "chirpstack"


def test_tts_uplink() -> None:
    [up] = parse_json(TTS_UP)
    assert up.frame == FRAME
    [rec] = up.receptions
    assert (rec.gateway, rec.rssi, rec.snr, rec.freq_mhz, rec.datr) == ("b827ebfffe000001", -50, 9.5, 867.5, "SF9BW125")
    assert rec.rx_id == "as:up:01HABC"
    assert iso(rec.time or 0) == "2026-11-25T09:34:16.000Z"


def test_uplinks_without_payload_are_skipped_not_errors() -> None:
    assert parse_json({**CHIRPSTACK_UP, "data": ""}) == []
    tts = json.loads(json.dumps(TTS_UP))
    del tts["uplink_message"]["frm_payload"]
    assert parse_json(tts) == []


def test_rxpk_crc_failed_is_flagged_not_decoded() -> None:
    ups = parse_json({"gateway": "AA555A0000000000", "rxpk": [
        {"tmst": 1, "stat": 1, "rssi": -80, "lsnr": 5.5, "freq": 868.3, "datr": "SF12BW125", "data": B64},
        {"tmst": 2, "stat": -1, "rssi": -120, "lsnr": -15, "freq": 868.3, "datr": "SF12BW125", "data": B64},
        {"tmst": 3, "stat": 1, "data": "not base64!"},
    ]})
    assert [u.problem for u in ups] == [None, "crc_failed", "bad_encoding"]
    assert ups[0].receptions[0].gateway == "aa555a0000000000"
    assert ups[0].receptions[0].rx_id == "1" and ups[0].receptions[0].freq_mhz == 868.3


def test_citynode_lines_hex_base64_json() -> None:
    assert parse_line(FRAME.hex())[0].frame == FRAME
    assert parse_line(B64)[0].frame == FRAME
    assert parse_line("  # a comment") == [] and parse_line("") == []
    [up] = parse_line(json.dumps({"frame": FRAME.hex(), "gateway": "GW1", "rssi": -90, "time": 1700000000}))
    assert up.frame == FRAME and up.receptions[0].gateway == "gw1" and up.receptions[0].time == 1700000000
    [up] = parse_line(json.dumps(CHIRPSTACK_UP))
    assert len(up.receptions) == 2


@pytest.mark.parametrize("line", ["{not json", '{"hello": 1}', "zz-not-hex-nor-base64!", '{"frame": "xyz"}'])
def test_bad_lines_raise_format_error(line: str) -> None:
    with pytest.raises(FormatError):
        parse_line(line)


def test_detect() -> None:
    assert detect(CHIRPSTACK_UP) == "chirpstack" and detect(TTS_UP) == "tts"
    assert detect({"rxpk": []}) == "push_data" and detect({"b64": B64}) == "citynode"


def test_network_server_times_with_nanoseconds() -> None:
    assert parse_time("2026-11-25T09:34:15.775023242+00:00") == pytest.approx(parse_time("2026-11-25T09:34:15.775023Z"))
    assert parse_time("2026-11-25T10:34:15+01:00") == parse_time("2026-11-25T09:34:15Z")
