"""Coverage-guided fuzzing of the decoder with atheris (libFuzzer), when atheris is installed.

The property is test_backend_fuzz.check: only FrameError, and nothing accepted without a
tag made with the device key. Run longer by hand:
    python tests/test_backend_atheris.py -max_total_time=300 /tmp/corpus
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.mark.slow
def test_atheris_coverage_guided() -> None:
    pytest.importorskip("atheris", reason="atheris is not installed (pip install atheris)")
    sys.path.insert(0, str(HERE))
    from test_backend_fuzz import seeds

    with tempfile.TemporaryDirectory(prefix="citynode-fuzz-") as corpus:
        for i, frame in enumerate(seeds()):
            Path(corpus, f"seed{i}").write_bytes(frame)
        proc = subprocess.run([sys.executable, __file__, "-max_total_time=10", "-timeout=2", "-rss_limit_mb=1024",
                               corpus], capture_output=True, text=True, timeout=180,
                              env={**os.environ, "PYTHONPATH": str(HERE)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = [line for line in proc.stderr.splitlines() if line.startswith("Done ")]
    assert runs, proc.stderr[-2000:]


def main() -> None:
    import atheris

    with atheris.instrument_imports(include=["citynode"]):
        import citynode.protocol  # noqa: F401 (instrumented for coverage feedback)
    sys.path.insert(0, str(HERE))
    from test_backend_fuzz import check

    def one_input(data: bytes) -> None:
        check(data)
        check(data, last=0)

    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
