"""Device ids as users type them (decimal or 0x-hex, or 8 hex digits) and as tools print them."""

from __future__ import annotations

from citynode.errors import CliError


def parse_device_id(text: str | int) -> int:
    """Parse a device id: 8 characters = hex (as printed), 0x-hex, else decimal.

    Refuses the two values SPEC.md reserves (0 and 0xFFFFFFFF).
    """
    if isinstance(text, int):
        return _checked(text, str(text))
    raw = text.strip().lower()
    try:
        # Tools print ids as exactly 8 hex digits, so that form is always hex.
        value = int(raw, 16) if raw.startswith("0x") or len(raw) == 8 else int(raw, 10)
    except ValueError:
        raise CliError(
            f"{text!r} is not a device id",
            hint="give it in decimal (42), as 0x-hex (0x2a) or as 8 hex digits (0000002a)",
        ) from None
    return _checked(value, text)


def _checked(value: int, text: str) -> int:
    if not 0 < value < 0xFFFFFFFF:
        raise CliError(
            f"device id {text} is not valid: ids are 1 to 0xFFFFFFFE",
            hint="0 and 0xFFFFFFFF are reserved (they look like blank memory): pick another id",
        )
    return value


def format_device_id(device_id: int) -> str:
    return f"{device_id:08x}"
