"""MQTT 5 subscriber for ChirpStack v4 and The Things Stack uplinks (paho-mqtt 2).

- QoS 1 with manual acknowledgement: PUBACK goes out only after the frame is committed.
- Persistent session (clean_start=False, a session expiry interval, a fixed client id):
  messages delivered but not acknowledged when serve dies are redelivered on restart.
- `$share/GROUP/...` shared subscriptions: the broker splits one stream among workers;
  the database (atomic counters, unique frames) keeps the result as if one worker ran.
The password can come from CITYNODE_MQTT_PASSWORD instead of the URL (kept out of `ps`).
"""

from __future__ import annotations

import json
import os
import ssl
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from citynode.backend.formats import parse_json
from citynode.backend.log import Log
from citynode.backend.metrics import Metrics
from citynode.backend.pipeline import Pipeline
from citynode.backend.sources.base import Source
from citynode.errors import EXIT_DEVICE, CliError


def parse_mqtt_url(url: str) -> tuple[str, int, bool, str | None, str | None]:
    """mqtt://[user[:password]@]host[:port] or mqtts://... -> (host, port, tls, user, password)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
        raise CliError(f"bad MQTT URL {url!r}", "write mqtt://host:1883 or mqtts://user@host:8883")
    tls = parts.scheme in ("mqtts", "ssl")
    try:
        port = parts.port
    except ValueError:
        raise CliError(f"bad port in MQTT URL {url!r}", "write mqtt://host:1883 (ports are 0..65535)") from None
    password = unquote(parts.password) if parts.password else os.environ.get("CITYNODE_MQTT_PASSWORD")
    return parts.hostname, port or (8883 if tls else 1883), tls, \
        unquote(parts.username) if parts.username else None, password


def shared_topic(topic: str, share: str | None) -> str:
    if not share or topic.startswith("$share/"):
        return topic
    return f"$share/{share}/{topic}"


class MqttSource(Source):
    def __init__(self, url: str, topics: list[str], pipeline: Pipeline, metrics: Metrics, log: Log, *,
                 client_id: str, share: str | None = None, session_expiry_s: int = 86400,
                 receive_maximum: int = 200, fmt: str = "auto") -> None:
        self.host, self.port, self.tls, self.user, self.password = parse_mqtt_url(url)
        self.topics = [shared_topic(t, share) for t in topics]
        self.name = f"mqtt:{self.host}:{self.port}"
        self.pipeline = pipeline
        self.metrics = metrics
        self.log = log
        self.client_id = client_id
        self.session_expiry_s = session_expiry_s
        self.receive_maximum = receive_maximum
        self.fmt = fmt
        self._stopping = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
                                  manual_ack=True)
        if self.user:
            self.client.username_pw_set(self.user, self.password)
        if self.tls:
            self.client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.reconnect_delay_set(1, 30)

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.session_expiry_s
        props.ReceiveMaximum = self.receive_maximum
        try:
            self.client.connect(self.host, self.port, keepalive=30, clean_start=False, properties=props)
        except OSError as err:
            raise CliError(f"cannot connect to the MQTT broker {self.host}:{self.port}: {err}",
                           "check --mqtt (mqtt://host:port) and that the broker runs", EXIT_DEVICE) from None
        self.client.loop_start()

    def stop_receiving(self) -> None:
        self._stopping.set()

    def close(self) -> None:
        # A normal DISCONNECT keeps the session (expiry interval): unacknowledged messages wait for us.
        self.client.disconnect()
        self.client.loop_stop()
        self.metrics.source_state(self.name, "stopped")

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any,
                    properties: Any) -> None:
        if reason.is_failure:
            self.metrics.source_state(self.name, f"refused: {reason}")
            self.log.error("mqtt_refused", f"the broker refused the connection: {reason}", client_id=self.client_id)
            return
        self.metrics.source_state(self.name, "connected")
        self.log.info("source_started", f"MQTT {self.host}:{self.port}", client_id=self.client_id,
                      session_present=bool(flags.session_present), topics=",".join(self.topics))
        client.subscribe([(t, SubscribeOptions(qos=1)) for t in self.topics])

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, properties: Any) -> None:
        refused = [str(r) for r in reasons if r.is_failure]
        if refused:
            self.log.error("mqtt_subscribe_refused", f"the broker refused a subscription: {', '.join(refused)}",
                           topics=",".join(self.topics))
        else:
            self.log.info("mqtt_subscribed", f"subscribed at QoS 1 to {', '.join(self.topics)}")

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any,
                       properties: Any) -> None:
        if not self._stopping.is_set():
            self.metrics.source_state(self.name, "reconnecting")
            self.log.warning("mqtt_disconnected", f"lost the broker ({reason}); reconnecting")

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        """paho's network thread calls this: an exception here would end the thread, so none escapes."""
        try:
            self._handle_message(msg)
        except Exception as err:  # not acknowledged: redelivered once the fault is fixed
            self.metrics.count("source_errors")
            self.log.warning("mqtt_handler_error", f"message on {msg.topic} left unacknowledged: "
                             f"{type(err).__name__}: {err}")

    def _handle_message(self, msg: mqtt.MQTTMessage) -> None:
        if self._stopping.is_set():
            return  # not acknowledged: the broker redelivers it to this session after restart
        self.metrics.count("mqtt_messages")
        ack = self._acker(msg.mid, msg.qos)
        try:
            uplinks = parse_json(json.loads(msg.payload), self.fmt, source="mqtt")
        except (ValueError, UnicodeDecodeError, RecursionError) as err:  # FormatError, JSONDecodeError among them
            self.metrics.count("bad_input")
            self.log.info("bad_input", f"MQTT message on {msg.topic} is not an uplink: {err}")
            ack()  # a broken message would only come back broken
            return
        if not uplinks:
            self.metrics.count("mqtt_ignored")
            ack()
            return
        remaining = [len(uplinks)]
        lock = threading.Lock()

        def one_done() -> None:
            with lock:
                remaining[0] -= 1
                last = remaining[0] == 0
            if last:
                ack()

        for up in uplinks:
            self.pipeline.submit(up, one_done)

    def _acker(self, mid: int, qos: int) -> Callable[[], None]:
        def ack() -> None:
            if qos > 0:
                self.client.ack(mid, qos)
        return ack
