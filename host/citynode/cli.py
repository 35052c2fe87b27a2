"""The `citynode` command line: one subcommand per module in citynode.commands.

Each command module defines `register(subparsers)` which adds its parser and sets
`func(args) -> int`. Adding a command is adding a module; nothing here changes.
Errors a user can fix are raised as CliError and printed as one clear message, never a
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from citynode import __version__, commands
from citynode.errors import EXIT_FAILED, EXIT_USAGE, CliError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="citynode",
        description="Flash, provision, decode and ingest citynode LoRa sensor nodes.",
        epilog="Run 'citynode COMMAND --help' for a command's options and examples.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"citynode {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except CliError as err:
        print(f"citynode {args.command}: {err.message}", file=sys.stderr)
        if err.hint:
            print(f"  what to do: {err.hint}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print(f"citynode {args.command}: interrupted", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:
        return _reader_went_away()


def _reader_went_away() -> int:
    """`citynode decode ... | head`: the reader closed the pipe. Stop quietly, as Unix tools do.

    Python would print a BrokenPipeError when it flushes stdout at exit; pointing stdout at
    /dev/null first prevents that. 141 is what a shell reports for a process ended by SIGPIPE.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141


if __name__ == "__main__":
    raise SystemExit(main())
