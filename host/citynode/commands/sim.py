"""`citynode sim`: virtual boards in the background, for mpremote, pyserial and citynode tools.

    citynode sim start --board heltec_v2 [--scenario FILE] [--state DIR] [--heap BYTES]
    citynode sim list
    citynode sim stop NAME | --all
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import time

from citynode.errors import EXIT_USAGE, CliError
from citynode.sim.board import DEFAULT_HEAP, VirtualBoard
from citynode.sim.control import BoardControl, ControlClient
from citynode.sim.rundir import list_boards, pid_alive, read_info, remove, run_root


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sim",
        help="run virtual boards (an ESP32 with MicroPython behind a serial port)",
        description="Virtual boards: the firmware on the real MicroPython VM behind a pty that mpremote, "
        "pyserial and citynode's tools use like a USB serial port.",
        epilog="examples:\n  citynode sim start --board heltec_v2\n  mpremote connect $(citynode sim start) fs ls\n"
        "  citynode sim list\n  citynode sim stop --all",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s = p.add_subparsers(dest="sim_command", metavar="ACTION")
    st = s.add_parser("start", help="start a board in the background and print its serial port")
    st.add_argument("--board", default="heltec_v2", help="board file name in boards/ (default heltec_v2)")
    st.add_argument("--scenario", help="scenario JSON file for the device models")
    st.add_argument("--state", help="directory keeping the board's flash and NVS across restarts")
    st.add_argument("--heap", type=int, default=DEFAULT_HEAP, help=f"VM heap in bytes (default {DEFAULT_HEAP})")
    st.add_argument("--name", help="name to refer to the board (default: the board name)")
    st.add_argument("--pace", choices=("fast", "realtime"), default="fast",
                    help="fast: sleeps take no real time (default); realtime: the clock follows the wall")
    st.add_argument("--json", action="store_true", help="print name, port and pid as JSON")
    st.set_defaults(func=cmd_start)
    ls = s.add_parser("list", help="list running virtual boards")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)
    sp = s.add_parser("stop", help="stop virtual boards")
    sp.add_argument("name", nargs="?", help="board name (see 'citynode sim list')")
    sp.add_argument("--all", action="store_true", help="stop every running board")
    sp.set_defaults(func=cmd_stop)
    def show_help(_args: argparse.Namespace) -> int:
        p.print_help()
        return EXIT_USAGE

    p.set_defaults(func=show_help)


def _unique_name(base: str) -> str:
    root = run_root()
    name, n = base, 1
    while (root / name).exists():
        info = read_info(root / name)
        if info is None or not info["alive"]:
            remove(root / name, info)
            break
        n += 1
        name = f"{base}-{n}"
    return name


def cmd_start(args: argparse.Namespace) -> int:
    root = run_root()
    if args.name:
        d = root / args.name
        info = read_info(d) if d.exists() else None
        if info and info["alive"]:
            raise CliError(f"a virtual board named {args.name!r} is already running on {info['port']}",
                           f"stop it first: citynode sim stop {args.name}")
        if d.exists():
            remove(d, info)
        name = args.name
    else:
        name = _unique_name(args.board)
    run_dir = root / name
    own_state = args.state is None
    state = args.state or str(run_dir / "state")
    vb = VirtualBoard(args.board, scenario=args.scenario, state_dir=state, heap=args.heap, pace=args.pace,
                      name=name, run_dir=run_dir, detach=True)
    vb.start()
    info = {"name": name, "board": args.board, "port": vb.port, "pid": vb.pid, "state_dir": str(vb.state_dir),
            "socket": vb.socket_path, "own_state": own_state, "started": time.time()}
    (run_dir / "info.json").write_text(json.dumps(info))
    if args.json:
        print(json.dumps({k: info[k] for k in ("name", "board", "port", "pid", "state_dir")}))
    else:
        print(vb.port)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    boards = list_boards()
    if args.json:
        print(json.dumps([{k: b.get(k) for k in ("name", "board", "port", "pid", "state_dir")} for b in boards]))
        return 0
    if not boards:
        print("no virtual boards running (start one: citynode sim start)")
        return 0
    print(f"{'NAME':<16} {'BOARD':<18} {'PORT':<14} {'PID':>7}  STATE")
    for b in boards:
        print(f"{b['name']:<16} {b['board']:<18} {b['port']:<14} {b['pid']:>7}  {b['state_dir']}")
    return 0


def _stop_one(run_dir: os.PathLike[str]) -> None:
    from pathlib import Path

    d = Path(run_dir)
    info = read_info(d)
    if info and info["alive"]:
        with contextlib.suppress(CliError):
            BoardControl(ControlClient(info["socket"], timeout=5)).stop()
        deadline = time.monotonic() + 5
        while pid_alive(info["pid"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid_alive(info["pid"]):
            os.kill(info["pid"], signal.SIGKILL)
    remove(d, info)


def cmd_stop(args: argparse.Namespace) -> int:
    root = run_root()
    if args.all:
        for d in sorted(root.iterdir()):
            if d.is_dir() and (d / "info.json").exists():
                _stop_one(d)
        return 0
    if not args.name:
        raise CliError("which board?", "give a name from 'citynode sim list', or --all")
    d = root / args.name
    if not (d / "info.json").exists():
        raise CliError(f"no virtual board named {args.name!r}", "see 'citynode sim list'")
    _stop_one(d)
    return 0
