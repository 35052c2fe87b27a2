# citynode node entry point: boot the node, then service mode or the measuring cycle.
# Anything that escapes the node is a crash: recorded in RTC memory (reported as reset
# cause "crash" and an error byte in the next frame) and followed by a back-off sleep that
# doubles with each consecutive crash, so a crash loop cannot drain the battery.
# A locked node never reaches the REPL: the first statement turns Ctrl-C into a plain byte
# (the port re-enables it before each script, shared/runtime/pyexec.c), and any exit ends in
# the crash path or a reset.


def _lock_console():
    """kbd_intr(-1) on a locked node; True when locked. An unreadable lock state counts as locked."""
    import micropython

    try:
        import esp32

        locked = esp32.NVS("citynode").get_i32("locked") == 1
    except OSError:
        return False  # no "locked" entry: a development board keeps Ctrl-C
    except Exception:  # noqa: BLE001
        locked = True
    if locked:
        micropython.kbd_intr(-1)
    return locked


try:
    _LOCKED = _lock_console()
except BaseException:  # noqa: BLE001 - a Ctrl-C in the instant before the lock took effect
    try:
        _LOCKED = _lock_console()
    except BaseException:  # noqa: BLE001
        import machine

        machine.reset()


def _crash(node, exc):
    import machine

    try:
        import sys

        sys.print_exception(exc)
    except Exception:  # noqa: BLE001
        pass
    try:
        from cn import registry as R
        from cn.state import F_CRASH, State

        if node is not None:
            st = node.state
        else:
            st = State(machine.RTC())
            st.load()
        st.flags |= F_CRASH
        if isinstance(exc, MemoryError):
            st.err = (R.ERR_MEMORY << 4) | 1
        elif isinstance(exc, OSError):
            st.err = (R.ERR_STORAGE << 4) | 2
        else:
            st.err = (R.ERR_CONFIG << 4) | 0xF
        ms = node.crash_backoff_ms() if node is not None else 60000
        if node is not None:
            node.deep_sleep(ms)
        else:
            st.save()
            machine.deepsleep(ms)
    except Exception:  # noqa: BLE001 - last resort
        machine.reset()


def main():
    node = None
    try:
        import gc

        from cn.node import Node

        gc.collect()  # the garbage of loading the code goes before the cycle's own
        node = Node()
        node.boot()
        gc.collect()  # and that of reading the config
        node.run()
    except BaseException as e:  # noqa: BLE001
        if not isinstance(e, Exception) and not _LOCKED:
            raise  # an unlocked development board: Ctrl-C and sys.exit() reach the REPL
        _crash(node, e)  # a locked node never returns to the REPL: it sleeps or resets


try:
    main()
except BaseException:  # noqa: BLE001 - whatever escaped the crash path
    if _LOCKED:
        import machine

        machine.reset()
    raise
