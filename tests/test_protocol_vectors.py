"""The host decoder passes every vector in protocol/vectors.json, and generated files are fresh."""

from __future__ import annotations

from typing import Any

import pytest

from citynode import registry_gen
from citynode.protocol import REASONS, FrameError, MemoryCounterStore, Status, decode, encode
from citynode.protocol import vectors as vectors_mod


def _store(entry: dict[str, Any], device: int | None) -> MemoryCounterStore:
    last = entry["last_counter"]
    return MemoryCounterStore({} if last is None or device is None else {device: last})


def test_every_valid_vector_decodes_to_its_expected_json(vectors: dict[str, Any],
                                                         vector_keys: dict[int, bytes]) -> None:
    for entry in vectors["valid"]:
        frame = bytes.fromhex(entry["frame"])
        device = int(entry["expected"]["device_id"], 16)
        store = _store(entry, device)
        got = decode(frame, vector_keys, store)
        assert got.to_json() == entry["expected"], entry["name"]
        assert store.last(device) == entry["expected"]["counter"], "a decoded frame commits its counter"
        with pytest.raises(FrameError) as err:
            decode(frame, vector_keys, store)
        assert err.value.reason == "replay", entry["name"]


def test_every_valid_vector_reencodes_from_its_input(vectors: dict[str, Any],
                                                     vector_keys: dict[int, bytes]) -> None:
    for entry in vectors["valid"]:
        inp = entry["input"]
        dev = int(inp["device_id"], 16)
        frame = encode(inp["readings"], device_id=dev, counter=inp["counter"], secret=vector_keys[dev],
                       profile=inp["profile"], tag_len=inp["tag_len"], encrypt=inp["encrypt"],
                       long_counter=inp["long_counter"],
                       status=None if inp["status"] is None else Status.from_json(inp["status"]),
                       series_interval_s=inp["series_interval_s"])
        assert frame.hex() == entry["frame"], entry["name"]


def test_every_invalid_vector_fails_with_its_reason(vectors: dict[str, Any],
                                                    vector_keys: dict[int, bytes]) -> None:
    for entry in vectors["invalid"]:
        device = None if entry["device_id"] is None else int(entry["device_id"], 16)
        store = _store(entry, device)
        before = store.snapshot()
        with pytest.raises(FrameError) as err:
            decode(bytes.fromhex(entry["frame"]), vector_keys, store)
        assert err.value.reason == entry["error"], entry["name"]
        assert str(err.value), "every rejection says what is wrong"
        assert store.snapshot() == before, "a rejected frame never moves the counter"


def test_vectors_cover_every_reason_and_feature(vectors: dict[str, Any]) -> None:
    assert {e["error"] for e in vectors["invalid"]} == set(REASONS)
    valid = [e["input"] for e in vectors["valid"]]
    assert {v["tag_len"] for v in valid} == {4, 8, 16}
    assert {v["encrypt"] for v in valid} == {True, False}
    assert {v["long_counter"] for v in valid} == {True, False}
    assert {e["expected"]["profile"] for e in vectors["valid"]} == {"soil", "air", "noise", "parking", "generic"}
    statuses = [v["status"] for v in valid if v["status"]]
    assert any(s["error"] for s in statuses) and any(not s["error"] for s in statuses)
    assert any(e["last_counter"] is not None and e["expected"]["counter"] >> 16 != e["last_counter"] >> 16
               for e in vectors["valid"] if not e["input"]["long_counter"]), "a 16-bit wrap reconstruction"


def test_vectors_file_is_up_to_date() -> None:
    assert vectors_mod.main(["--check"]) == 0, "run: python -m citynode.protocol.vectors --write"


def test_firmware_registry_is_generated_from_registry_toml() -> None:
    assert registry_gen.main(["--check"]) == 0, "run: python -m citynode.registry_gen"
