"""Board definitions: boards/NAME.json is the one source of pins, chip and flash layout."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from citynode.errors import CliError
from citynode.paths import boards_dir


@dataclass(frozen=True)
class Board:
    name: str
    title: str
    chip: str
    micropython_version: str
    arch: str
    flash_offset: int
    radio_type: str
    data: dict[str, Any]

    @property
    def radio_package(self) -> str:
        """micropython-lib package holding this board's radio driver."""
        return "lora-sx126x" if self.radio_type.startswith("sx126") else "lora-sx127x"


def board_names() -> list[str]:
    return sorted(path.stem for path in boards_dir().glob("*.json"))


def board_path(name: str) -> Path:
    return boards_dir() / f"{name}.json"


def load_board(name: str) -> Board:
    path = board_path(name)
    if not path.is_file():
        raise CliError(
            f"unknown board {name!r}",
            hint=f"use one of: {', '.join(board_names())} (files in {boards_dir()})",
        )
    data = json.loads(path.read_text())
    mp = data["micropython"]
    return Board(
        name=data["name"],
        title=data["title"],
        chip=data["chip"],
        micropython_version=mp["version"],
        arch=mp["arch"],
        flash_offset=int(mp["flash_offset"]),
        radio_type=data["radio"]["type"],
        data=data,
    )
