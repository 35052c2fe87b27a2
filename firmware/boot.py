# citynode: runs first after every reset. Kept tiny: the node starts in main.py, and a
# failure here must never keep the board from reaching it. Everything is inside one
# try/except BaseException: if boot.py ends in an exception (a Ctrl-C typed at boot included)
# the port skips main.py and starts the REPL (ports/esp32/main.c), which a locked node must
# never do.
try:
    try:
        import esp

        esp.osdebug(None)  # no IDF log lines on the console the service protocol uses
    except Exception:  # noqa: BLE001
        pass
    # A locked node has no REPL (README, "What a lock does"): Ctrl-C is a plain byte while
    # boot.py runs. The port turns Ctrl-C back on before main.py, so main.py does this again.
    import esp32
    import micropython

    try:
        if esp32.NVS("citynode").get_i32("locked") == 1:
            micropython.kbd_intr(-1)
    except OSError:
        pass  # not locked (no "locked" entry): a development board keeps Ctrl-C and the REPL
except BaseException:  # noqa: BLE001
    pass
