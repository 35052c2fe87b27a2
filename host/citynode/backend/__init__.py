"""citynode backend: verify frames from gateways, network servers and files, and store them.

    from citynode.backend import open_store, Ingestor, SecurityMonitor
    store = open_store("citynode.db")            # or "postgresql://..."
    ingestor = Ingestor(store, keys, SecurityMonitor(store))
    result = ingestor.ingest(frame_bytes, Reception(source="api", gateway="0102030405060708"))

`run_serve(ServeConfig(...))` is what `citynode serve` runs: sources -> pipeline -> store.
"""

from citynode.backend.ingest import Ingestor, Result
from citynode.backend.model import Reception, Uplink
from citynode.backend.monitor import DEFAULT_RULES, AlertRule, SecurityMonitor
from citynode.backend.serve import ServeConfig, run_serve
from citynode.backend.store import Store, open_store

__all__ = [
    "DEFAULT_RULES", "AlertRule", "Ingestor", "Reception", "Result", "SecurityMonitor", "ServeConfig",
    "Store", "Uplink", "open_store", "run_serve",
]
