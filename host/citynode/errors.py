"""Errors a user can act on, and the exit codes every command uses.

Exit codes (documented in the README):
  0 success; 1 some item failed (a frame, a board); 2 usage or input error;
  3 device or port problem (not found, busy, no permission, not answering);
  4 security refusal (wrong key, locked device, id already in use).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_DEVICE = 3
EXIT_SECURITY = 4


class CliError(Exception):
    """A failure with one clear message and what to do about it."""

    def __init__(self, message: str, hint: str = "", exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code
