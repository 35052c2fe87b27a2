"""`citynode serve --http`: network-server webhooks are stored, and answered 200 only once stored."""

from __future__ import annotations

import base64
import json
import threading
import urllib.error
import urllib.request
from pathlib import Path

from backend_services import Fleet, free_port
from citynode.backend import ServeConfig, open_store, run_serve
from citynode.protocol import encode


def post(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def test_chirpstack_and_tts_webhooks_are_stored_once(tmp_path: Path) -> None:
    fleet = Fleet.create(tmp_path, 1)
    [dev] = list(fleet.keys)
    frames = [encode({"battery_v": 3.6, "soil_vwc": 20.0 + c, "soil_temp": 15.0}, device_id=dev, counter=c,
                     secret=fleet.keys[dev], long_counter=c == 1) for c in (1, 2)]
    chirpstack = {"deduplicationId": "d1", "time": "2026-11-25T09:34:15Z", "deviceInfo": {"devEui": "0101010101010101"},
                  "fCnt": 1, "fPort": 1, "data": base64.b64encode(frames[0]).decode(),
                  "rxInfo": [{"gatewayId": "0016c001f153a14c", "rssi": -40, "snr": 9.0}]}
    tts = {"end_device_ids": {"device_id": "soil-1", "application_ids": {"application_id": "city"}},
           "received_at": "2026-11-25T09:35:16Z",
           "uplink_message": {"f_port": 1, "f_cnt": 2, "frm_payload": base64.b64encode(frames[1]).decode(),
                              "rx_metadata": [{"gateway_ids": {"gateway_id": "gw-townhall"}, "rssi": -50, "snr": 9.5}]}}
    port = free_port()
    db = str(tmp_path / "hooks.db")
    stop, ready = threading.Event(), threading.Event()
    thread = threading.Thread(target=run_serve, args=(ServeConfig(db=db, keys=str(fleet.path),
                                                                  http=[f"127.0.0.1:{port}"]), stop),
                              kwargs={"ready": lambda info: ready.set()})
    thread.start()
    try:
        assert ready.wait(10)
        base = f"http://127.0.0.1:{port}/uplink"
        assert post(base + "?event=up", json.dumps(chirpstack).encode()) == 200
        assert post(base, json.dumps(tts).encode()) == 200
        assert post(base + "?event=up", json.dumps(chirpstack).encode()) == 200  # a retry: stored once
        assert post(base + "?event=join", b'{"devEui": "0101010101010101"}') == 204
        assert post(base, b"{not json") == 400
    finally:
        stop.set()
        thread.join(20)
    store = open_store(db)
    try:
        assert sorted(c for (c,) in store.db.query("SELECT counter FROM frames")) == [1, 2]
        gateways = sorted(g for (g,) in store.db.query("SELECT gateway FROM frame_receptions"))
        assert gateways == ["0016c001f153a14c", "gw-townhall"]
        assert store.db.one("SELECT COUNT(*) FROM readings") == (6,)
    finally:
        store.close()
