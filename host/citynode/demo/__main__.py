"""`make demo`: the whole chain on a virtual fleet, with the real tools, in a few minutes.

Four virtual boards (soil, air, noise, parking; four board files) get the firmware with
`citynode deploy` and their identity and keys with `citynode provision`; `citynode serve`
listens for a simulated gateway that forwards the boards' radio packets as Semtech UDP;
a simulated day runs in virtual time; an attacker forges one frame and replays another.
Everything is written under one directory (default demo/), which `make clean` removes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from citynode.demo.fleetdata import collect
from citynode.demo.report import render_report
from citynode.gateway import Forwarder, Reception
from citynode.paths import project_root
from citynode.sim import VirtualBoard

HOUR_MS = 3_600_000
DAY_START = time.mktime((2026, 6, 21, 0, 0, 0, 0, 0, 0)) - time.timezone  # midnight UTC, a summer day
GATEWAY_EUI = bytes.fromhex("b827ebfffe1c0001")
ROGUE_EUI = bytes.fromhex("dead00beef000666")


@dataclass
class DemoNode:
    name: str
    kind: str
    board: str
    device_id: int
    scenario: str
    site: str
    vboard: VirtualBoard | None = None
    origin_ms: int = 0  # the board's virtual clock at the demo's midnight
    wall_s: float = 0.0  # wall time its simulated day took
    sent: list[dict[str, Any]] = field(default_factory=list)


NODES = [
    DemoNode("soil", "soil", "heltec_v3", 0x0C170001, "soil_week", "Parc de la Roseraie, bed 3"),
    DemoNode("air", "air", "heltec_v2", 0x0C170002, "air_week", "Avenue Jean-Jaurès, lamp post 12"),
    DemoNode("noise", "noise", "generic_sx1276", 0x0C170003, "noise_day", "Place du Marché, lamp post 4"),
    DemoNode("parking", "parking", "lilygo_t3_v1_6_1", 0x0C170004, "parking_week", "Rue Victor-Hugo, bay 17"),
]


# Where the demo departs from the defaults, to fit a simulated day into minutes on two cores:
# the WebAssembly VM cannot A-weight 48 kHz audio in real time, so the virtual noise node
# measures one 125 ms block per minute (a sampled Leq; real boards measure continuously), and
# the parking node polls its magnetometer every 60 s instead of 30 s (each poll is a wake).
DEMO_CONFIGS: dict[str, dict[str, Any]] = {
    "noise": {"version": 1, "kind": "noise",
              "sensors": [{"type": "noise_i2s", "sample_every_ms": 60000, "block_ms": 62}]},
    "parking": {"version": 1, "kind": "parking", "sample_s": 60,
                "sensors": [{"type": "qmc5883l"}, {"type": "battery"}]},
}


def citynode(*args: str, env: dict[str, str], log: Path) -> subprocess.CompletedProcess[str]:
    """Run one citynode command as a user would; its output goes to the demo log."""
    proc = subprocess.run([sys.executable, "-m", "citynode.cli", *args], capture_output=True, text=True,
                          env=env, check=False, timeout=600)
    with log.open("a") as f:
        f.write(f"$ citynode {' '.join(args)}\n{proc.stdout}{proc.stderr}(exit {proc.returncode})\n\n")
    if proc.returncode != 0:
        raise SystemExit(f"citynode {args[0]} failed (exit {proc.returncode}); see {log}\n{proc.stderr[-2000:]}")
    return proc


def deploy(node: DemoNode, env: dict[str, str], out: Path) -> None:
    assert node.vboard is not None
    citynode("deploy", "--port", node.vboard.port, "--board", node.board, env=env, log=out / f"deploy-{node.name}.log")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def reception(packet: dict[str, Any], origin_ms: int = 0) -> Reception:
    cfg = packet.get("cfg") or {}
    return Reception(
        payload=bytes.fromhex(packet["bytes"]),
        freq_mhz=float(cfg.get("freq_khz", 868100)) / 1000,
        sf=int(cfg.get("sf", 12)),
        rssi=int(packet.get("rssi", -95)),
        snr=float(packet.get("snr", 7.0)),
        time_s=DAY_START + (packet["t_ms"] - origin_ms) / 1000,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="citynode-demo", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("demo"), help="output directory (replaced)")
    parser.add_argument("--hours", type=int, default=24, help="simulated hours (default 24)")
    args = parser.parse_args(argv)
    console = Console(highlight=False, width=max(120, shutil.get_terminal_size().columns))
    started = time.monotonic()
    out: Path = args.out.resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    log = out / "commands.log"
    env = dict(os.environ, CITYNODE_KEYSTORE=str(out / "fleet.keys"), CITYNODE_FLEET=str(out / "fleet.db"),
               CITYNODE_ROOT=str(project_root()), CITYNODE_SIM_DIR=str(out / "sim"))
    os.environ.update({k: env[k] for k in ("CITYNODE_SIM_DIR",)})

    console.rule("citynode demo: a virtual fleet from flash to dashboard")
    scenarios = project_root() / "host" / "citynode" / "sim" / "scenarios"
    for node in NODES:
        node.vboard = VirtualBoard(board=node.board, scenario=scenarios / f"{node.scenario}.json",
                                   state_dir=out / "boards" / node.name, run_dir=out / "sim" / node.name,
                                   name=node.name).start()
        console.print(f"[green]✓[/green] virtual {node.board} ({node.name} node) on {node.vboard.port}")

    serve: subprocess.Popen[bytes] | None = None
    try:
        with ThreadPoolExecutor(max_workers=len(NODES)) as pool:
            list(pool.map(lambda n: deploy(n, env, out), NODES))
        console.print("[green]✓[/green] firmware deployed to the four boards (citynode deploy)")
        for node in NODES:
            assert node.vboard is not None
            # Hold virtual time a minute ahead: once provisioned, a node sleeps until the day starts.
            node.origin_ms = node.vboard.control.virtual_ms() + 60_000
            node.vboard.control.set_time_limit(node.origin_ms)
            kind_args = ["--kind", node.kind]
            if node.kind in DEMO_CONFIGS:
                config = out / f"{node.name}-node.json"
                config.write_text(json.dumps(DEMO_CONFIGS[node.kind]))
                kind_args = ["--config", str(config)]
            citynode("provision", "--port", node.vboard.port, "--device-id", f"{node.device_id:08x}",
                     *kind_args, "--board", node.board, "--site", node.site, env=env, log=log)
            console.print(f"[green]✓[/green] {node.name} node provisioned as {node.device_id:08x} "
                          f"(key in {out.name}/fleet.keys, proven by challenge, test frame verified)")

        udp_port = free_udp_port()
        serve_log = (out / "serve.log").open("w")
        serve = subprocess.Popen(
            [sys.executable, "-m", "citynode.cli", "serve", "--udp", f"127.0.0.1:{udp_port}",
             "--keys", str(out / "fleet.keys"), "--db", str(out / "citynode.db"), "--log-json",
             "--dup-window", "5"],
            stdout=serve_log, stderr=serve_log, env=env)
        gateway = Forwarder(("127.0.0.1", udp_port), GATEWAY_EUI)
        time.sleep(1.0)
        console.print(f"[green]✓[/green] citynode serve listening on 127.0.0.1:{udp_port} (Semtech UDP), "
                      "database demo/citynode.db")

        captured: list[dict[str, Any]] = []
        for hour in range(1, args.hours + 1):
            def advance(node: DemoNode, hour: int = hour) -> list[dict[str, Any]]:
                assert node.vboard is not None
                began = time.monotonic()
                node.vboard.control.run_until(node.origin_ms + hour * HOUR_MS, timeout=600)
                node.wall_s += time.monotonic() - began
                return node.vboard.radio_packets()

            with ThreadPoolExecutor(max_workers=len(NODES)) as pool:
                batches = list(pool.map(advance, NODES))
            for node, packets in zip(NODES, batches, strict=True):
                node.sent.extend(packets)
                for packet in packets:
                    gateway.send([reception(packet, node.origin_ms)])
                    if node.kind == "soil" and len(captured) < 3:
                        captured.append(packet)
            if hour == args.hours // 2 and captured:
                attack(captured, udp_port, NODES[0].origin_ms + hour * HOUR_MS, NODES[0].origin_ms)
                console.print("[yellow]![/yellow] attacker at a rogue gateway: 6 forged soil frames (key guessing) "
                              f"and {len(captured)} replayed old ones")
            console.print(f"  simulated {hour:2d} h: "
                          + ", ".join(f"{n.name} {len(n.sent)}" for n in NODES) + " frames sent")
        gateway.close()
        time.sleep(1.5)
    finally:
        if serve is not None:
            serve.send_signal(signal.SIGTERM)
            serve.wait(timeout=30)
        heaps = {}
        for node in NODES:
            if node.vboard is not None:
                try:
                    heaps[node.name] = node.vboard.peak_heap()
                except Exception:  # the board may already be gone: the report still goes out
                    heaps[node.name] = 0
                node.vboard.stop()

    data = collect(out / "citynode.db", NODES, DAY_START)
    summary = Table(title="citynode demo: one simulated day")
    for column in ("node", "device", "board", "frames sent", "frames stored", "rejected", "last readings"):
        summary.add_column(column)
    for row in data.summary:
        summary.add_row(*row.values())
    console.print(summary)
    for alert in data.alerts:
        console.print(f"[red]alert[/red] {alert['rule']}: {alert['detail']}")
    for reject in data.rejected:
        console.print(f"[yellow]rejected[/yellow] {reject['reason']} from gateway {reject['gateway']}")
    html = render_report(
        "citynode demo: one simulated day",
        f"Four virtual nodes deployed, provisioned and run for {args.hours} simulated hours; "
        f"frames forwarded by a simulated Semtech UDP gateway to citynode serve. "
        f"Wall time {time.monotonic() - started:.0f} s. VM heap allocated per node (an upper bound: "
        f"the WebAssembly VM collects garbage only between programs): "
        + ", ".join(f"{k} {v // 1024} KiB" for k, v in heaps.items()) + ".",
        data.panels, data.summary, data.rejected, data.alerts,
    )
    (out / "report.html").write_text(html, encoding="utf-8")
    (out / "summary.json").write_text(json.dumps({"summary": data.summary, "rejected": data.rejected,
                                                  "alerts": data.alerts, "peak_heap": heaps,
                                                  "wall_s": round(time.monotonic() - started, 1),
                                                  "node_wall_s": {n.name: round(n.wall_s, 1) for n in NODES}},
                                                 indent=1))
    console.print(f"\nreport: {out / 'report.html'}  (open it in a browser)   wall time "
                  f"{time.monotonic() - started:.0f} s")
    return 0


def attack(captured: list[dict[str, Any]], udp_port: int, t_ms: int, origin_ms: int) -> None:
    """Forged frames (a genuine one with changed readings and guessed tags) and replays of old genuine ones.

    Enough of each to cross the backend's default alert thresholds (citynode serve rules).
    """
    rogue = Forwarder(("127.0.0.1", udp_port), ROGUE_EUI)
    when = {**captured[0], "t_ms": t_ms}
    for attempt in range(6):
        forged = bytearray(bytes.fromhex(captured[-1]["bytes"]))
        forged[8] ^= 0x40  # inside the body: a drier soil reading, to trigger irrigation
        forged[-1] ^= attempt + 1  # a guessed tag
        rogue.send([reception({**when, "bytes": bytes(forged).hex()}, origin_ms)])
    for packet in captured:
        rogue.send([reception({**when, "bytes": packet["bytes"]}, origin_ms)])
    rogue.close()


if __name__ == "__main__":
    raise SystemExit(main())
