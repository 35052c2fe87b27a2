# ruff: noqa
# mypy: ignore-errors
# esp32 for the virtual board: NVS persisted beside the flash image (only committed values
# survive a power cut); wake sources and the rest are accepted and ignored.
import _cnsim as _h
import json as _json
from binascii import hexlify as _hx, unhexlify as _ux

WAKEUP_ALL_LOW = False
WAKEUP_ANY_HIGH = True
HEAP_DATA = 4
HEAP_EXEC = 1

_ERRS = {0x1102: "ESP_ERR_NVS_NOT_FOUND", 0x1109: "ESP_ERR_NVS_KEY_TOO_LONG", 0x110C: "ESP_ERR_NVS_INVALID_LENGTH",
         0x1103: "ESP_ERR_NVS_TYPE_MISMATCH", 0x1108: "ESP_ERR_NVS_INVALID_NAME"}


def _err(code):
    return OSError(-code, _ERRS.get(code, "ESP_FAIL"))


class NVS:
    def __init__(self, namespace):
        if len(namespace) > 15:
            raise _err(0x1108)
        self._ns = namespace

    def _key(self, key):
        if len(key) > 15:
            raise _err(0x1109)
        return key

    def _get(self, key, kind):
        v = _h.nvs_get(self._ns, self._key(key))
        if v is None:
            raise _err(0x1102)
        v = _json.loads(v)
        if v["t"] != kind:
            raise _err(0x1102)
        return v["v"]

    def set_i32(self, key, value):
        if not -0x80000000 <= value <= 0x7FFFFFFF:
            raise OverflowError("overflow converting long int to machine word")
        _h.nvs_set(self._ns, self._key(key), _json.dumps({"t": "i32", "v": value}))

    def get_i32(self, key):
        return self._get(key, "i32")

    def set_blob(self, key, value):
        _h.nvs_set(self._ns, self._key(key), _json.dumps({"t": "blob", "v": _hx(bytes(value)).decode()}))

    def get_blob(self, key, buffer):
        data = _ux(self._get(key, "blob"))
        if len(buffer) < len(data):
            raise _err(0x110C)
        buffer[: len(data)] = data
        return len(data)

    def erase_key(self, key):
        if not _h.nvs_erase(self._ns, self._key(key)):
            raise _err(0x1102)

    def commit(self):
        _h.nvs_commit(self._ns)


def wake_on_ext0(pin, level):
    pass


def wake_on_ext1(pins, level):
    pass


def wake_on_touch(wake):
    pass


def wake_on_ulp(wake):
    pass


def gpio_deep_sleep_hold(enable):
    pass


def raw_temperature():
    return 122


def mcu_temperature():
    return 45


def idf_heap_info(capabilities):
    return [(113000, 40000, 30000, 38000)]


class Partition:
    BOOT = 0
    RUNNING = 1
    TYPE_APP = 0
    TYPE_DATA = 1

    def __init__(self, id, block_size=4096):
        self._id = id

    @staticmethod
    def find(type=0, subtype=255, label=None, block_size=4096):
        return []

    def info(self):
        return (0, 0, 0x10000, 0x1F0000, "factory", False)
