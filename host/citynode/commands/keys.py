"""`citynode keys`: per-device secrets in a 0600 keystore file (new, list, show, remove).

Secrets are created from the OS's cryptographic random source and never shown unless the
operator asks with --reveal; list and show give a fingerprint that identifies a key
without revealing it.
"""

from __future__ import annotations

import argparse
import json
import os

from citynode.errors import EXIT_FAILED, CliError
from citynode.ids import parse_device_id
from citynode.keystore import Keystore

EPILOG = """examples:
  citynode keys new --keystore fleet.keys --device-id 0x0000002a
  citynode keys new --keystore fleet.keys --device-id 42 --force-rotate   # replace a key (audited)
  citynode keys list --keystore fleet.keys
  citynode keys show --keystore fleet.keys --device-id 42 --reveal        # prints the secret
  citynode keys remove --keystore fleet.keys --device-id 42

The keystore is a JSON file readable only by its owner (mode 0600); CITYNODE_KEYSTORE sets
the default path. Device ids are decimal or 0x-hex, 1..0xFFFFFFFE.
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("keys", help="create, list, show and remove per-device keys",
                            description=__doc__, epilog=EPILOG,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="keys_action", metavar="ACTION")

    def common(p: argparse.ArgumentParser, device: bool) -> None:
        p.add_argument("--keystore", default=os.environ.get("CITYNODE_KEYSTORE"),
                       help="keystore file (default: $CITYNODE_KEYSTORE)")
        if device:
            p.add_argument("--device-id", required=True, help="device id, decimal or 0x-hex")

    def add(name: str, help_: str, epilog: str, device: bool, aliases: list[str] | None = None) \
            -> argparse.ArgumentParser:
        p = actions.add_parser(name, help=help_, description=help_, epilog=epilog, aliases=aliases or [],
                               formatter_class=argparse.RawDescriptionHelpFormatter)
        common(p, device)
        return p

    p = add("new", "create a random 16-byte secret for a device",
            "example:\n  citynode keys new --keystore fleet.keys --device-id 0x2a", True)
    p.add_argument("--reveal", action="store_true", help="also print the secret (hex)")
    p.add_argument("--force-rotate", action="store_true",
                   help="replace an existing key (recorded in the keystore's audit trail)")
    p.set_defaults(func=cmd_new)
    p = add("list", "list devices: id, creation date, fingerprint (never secrets)",
            "example:\n  citynode keys list --keystore fleet.keys --json", False)
    p.add_argument("--json", action="store_true", help="one JSON object per device")
    p.set_defaults(func=cmd_list)
    p = add("show", "show one device's key fingerprint (the secret only with --reveal)",
            "example:\n  citynode keys show --keystore fleet.keys --device-id 42", True)
    p.add_argument("--reveal", action="store_true", help="also print the secret (hex)")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(func=cmd_show)
    p = add("remove", "forget a device's key (its frames can no longer be decoded)",
            "example:\n  citynode keys remove --keystore fleet.keys --device-id 42", True, ["delete"])
    p.set_defaults(func=cmd_remove)
    parser.set_defaults(func=lambda args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _keystore(args: argparse.Namespace) -> Keystore:
    if not args.keystore:
        raise CliError("no keystore given", "pass --keystore FILE or set CITYNODE_KEYSTORE")
    return Keystore(args.keystore)


def cmd_new(args: argparse.Namespace) -> int:
    ks = _keystore(args)
    dev = parse_device_id(args.device_id)
    secret = ks.add(dev, force_rotate=args.force_rotate)
    entry = ks.get(dev)
    assert entry is not None
    verb = "rotated" if args.force_rotate else "created"
    print(f"device {dev:08x}: key {verb}, fingerprint {entry.fingerprint} ({ks.path})")
    if args.reveal:
        print(f"secret {secret.hex()}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    ks = _keystore(args)
    ks.require()
    entries = ks.entries()
    if args.json:
        for e in entries:
            print(json.dumps(e.public_json()))
        return 0
    if not entries:
        print(f"no keys in {ks.path}")
        return 0
    print(f"{'device':<10}  {'created':<20}  fingerprint")
    for e in entries:
        print(f"{e.device_id:08x}    {e.created:<20}  {e.fingerprint}")
    return 0


def _existing_device(args: argparse.Namespace) -> tuple[Keystore, int]:
    """The keystore (which must exist) and the --device-id of a command about a stored key."""
    ks = _keystore(args)
    ks.require()
    return ks, parse_device_id(args.device_id)


def _no_key(ks: Keystore, dev: int) -> CliError:
    return CliError(f"no key for device {dev:08x} in {ks.path}", "see: citynode keys list", EXIT_FAILED)


def cmd_show(args: argparse.Namespace) -> int:
    ks, dev = _existing_device(args)
    entry = ks.get(dev)
    if entry is None:
        raise _no_key(ks, dev)
    out = entry.public_json()
    if args.reveal:
        out["secret"] = entry.secret.hex()
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k}: {v}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    ks, dev = _existing_device(args)
    if not ks.remove(dev):
        raise _no_key(ks, dev)
    print(f"device {dev:08x}: key removed")
    return 0
