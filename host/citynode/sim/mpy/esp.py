# ruff: noqa
# mypy: ignore-errors
# esp for the virtual board (boot.py templates call esp.osdebug).
LOG_NONE = 0
LOG_ERROR = 1
LOG_WARNING = 2
LOG_INFO = 3
LOG_DEBUG = 4
LOG_VERBOSE = 5


def osdebug(uart, level=LOG_ERROR):
    pass


def flash_size():
    return 4194304


def flash_user_start():
    return 0x200000


def gpio_matrix_in(*a):
    pass


def gpio_matrix_out(*a):
    pass
