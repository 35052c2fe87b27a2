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

    def running(self) -> bool:
        """False when the source's receiving thread has died (serve then restarts it, /health says so)."""
        return True

    def restart(self) -> bool:
        """Start receiving again after the thread died; False when this source cannot."""
        return False

    def finished(self) -> bool:
        """True when the source has nothing more to give (stdin at end of file)."""
        return False
