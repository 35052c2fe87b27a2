"""A provision that fails leaves nothing half-written: no fleet row binds the board to an id it
holds no key for, while a run cut after the key was staged keeps its claim so that running the
same command again finishes it (issue 13)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from citynode.errors import CliError
from citynode.fleet import Fleet
from citynode.keystore import Keystore
from citynode.provisioning import Plan, Provisioner


class CablePulled(CliError):
    pass


class Node:
    """The service session of a fresh node up to the moment the cable is pulled at set_key."""

    def __init__(self, hw: str) -> None:
        self.hw = hw

    def wake(self) -> None:
        pass

    def hello(self) -> dict[str, Any]:
        return {"hw_id": self.hw, "board": "heltec_v3", "fw": "1.0", "device_id": None, "locked": False}

    def set_key(self, *args: Any, **kw: Any) -> None:
        raise CablePulled("the node stopped answering", "check the cable and run the same command again")


def test_failure_before_a_key_is_staged_releases_the_claim(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    fleet = Fleet(tmp_path / "fleet.db")
    broken = Keystore(tmp_path / "afile" / "keys.json")  # a path through a file: staging fails
    with pytest.raises(CliError, match="keystore"):
        Provisioner(Node("aa:bb"), broken, fleet).run(Plan(device_id=0x0C170001, kind="soil"))  # type: ignore[arg-type]
    assert fleet.get(0x0C170001) is None
    # The same board can now be provisioned under another id (claimed, then cut at set_key).
    keystore = Keystore(tmp_path / "keys.json")
    with pytest.raises(CablePulled):
        Provisioner(Node("aa:bb"), keystore, fleet).run(Plan(device_id=0x0C170002, kind="soil"))  # type: ignore[arg-type]
    kept = fleet.get(0x0C170002)
    assert kept is not None and kept.hardware_id == "aa:bb"
    assert keystore.pending(0x0C170002) is not None  # staged first, so the re-run finishes with this key
