"""What every source offers the serve loop."""

from __future__ import annotations


class Source:
    name = "source"

    def start(self) -> None:
        """Begin receiving (binding/connecting first, so a wrong address fails at once)."""

    def stop_receiving(self) -> None:
        """Take no new uplinks; what was handed to the pipeline still gets committed and acknowledged."""

    def close(self) -> None:
        """Release the socket or connection, after the pipeline has drained."""

    def finished(self) -> bool:
        """True when the source has nothing more to give (stdin at end of file)."""
        return False
