# ruff: noqa
# mypy: ignore-errors
# Installs the virtual board's modules (run once per boot, before boot.py, from a mount
# that is removed afterwards, so the board's filesystem shows only the user's files).
import sys
import _cnsim_gc
import _cnsim_time
import _cnsim_sys
import _cnsim_select
import _cnsim_os
import _cnsim_micropython
import machine
import esp32
import esp
import cryptolib

_m = sys.modules
for _name, _mod in (("gc", _cnsim_gc), ("time", _cnsim_time), ("sys", _cnsim_sys), ("select", _cnsim_select),
                    ("os", _cnsim_os), ("micropython", _cnsim_micropython)):
    _m[_name] = _mod
    _m["u" + _name] = _mod
import builtins

builtins.open = _cnsim_os.open
# Modules from the device models (e.g. lora), when present.
import os as _os
for _f in _os.listdir("/cnsim"):
    _n = _f.rsplit(".", 1)[0]
    if _f.endswith("py") and not _f.startswith("_cnsim") and _n not in _m:
        __import__(_n)
