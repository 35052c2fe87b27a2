"""citynode: host tools and backends for the citynode LoRa sensor firmware."""

__version__ = "0.1.0"
