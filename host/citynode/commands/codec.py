"""`citynode codec export`: the JavaScript payload formatter for TTS or ChirpStack v4."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from citynode.codec import TARGETS, generate
from citynode.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError

EPILOG = """examples:
  citynode codec export --target ttn -o citynode-ttn.js
  citynode codec export --target chirpstack > citynode-chirpstack.js
  citynode codec export --target ttn | wc -c

The formatter is generated from protocol/registry.toml: export it again after every
registry change. It decodes frames on the network server but cannot verify their tags
(it has no device keys): each result carries a warning saying so, and encrypted frames
are reported as errors. The citynode backend is the authenticated path.
The Things Stack: paste it as a Custom Javascript formatter (uplink).
ChirpStack v4: paste it as the device profile's JavaScript codec; an optional device
variable citynode_device_id (8 hex digits) makes it warn when a frame carries another id."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "codec", help="payload formatter for LoRaWAN network servers (TTS, ChirpStack)", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    export = actions.add_parser(
        "export", help="write the JavaScript decodeUplink formatter", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("--target", required=True, choices=sorted(TARGETS),
                        help="network server: ttn (The Things Stack) or chirpstack (v4)")
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        source = generate(args.target)
    except (OSError, ValueError, KeyError) as err:
        raise CliError(
            f"cannot generate the formatter: {err}",
            hint="check protocol/registry.toml (or CITYNODE_ROOT) and run 'citynode codec export' again",
            exit_code=EXIT_USAGE,
        ) from None
    if args.output is None:
        sys.stdout.write(source)
        return EXIT_OK
    write_atomically(Path(args.output), source)
    print(f"wrote {args.output} ({len(source.encode('utf-8'))} bytes, target {args.target})", file=sys.stderr)
    return EXIT_OK


def write_atomically(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never half of it."""
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise CliError(f"{directory} is not a directory", hint="create it or choose another -o FILE",
                       exit_code=EXIT_USAGE)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as err:
        raise CliError(f"cannot write {path}: {err.strerror}", hint="check the path and its permissions",
                       exit_code=EXIT_FAILED) from None
