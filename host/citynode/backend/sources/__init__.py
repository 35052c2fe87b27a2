"""Where uplinks come from: Semtech UDP gateways, an MQTT broker or webhooks (ChirpStack, TTS), stdin."""

from citynode.backend.sources.base import Source
from citynode.backend.sources.http import HttpSource
from citynode.backend.sources.mqtt import MqttSource
from citynode.backend.sources.stdin import StdinSource
from citynode.backend.sources.udp import UdpSource

__all__ = ["HttpSource", "MqttSource", "Source", "StdinSource", "UdpSource"]
