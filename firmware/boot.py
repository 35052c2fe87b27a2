# citynode: runs first after every reset. Kept tiny: the node starts in main.py, and a
# failure here must never keep the board from reaching it.
try:
    import esp

    esp.osdebug(None)  # no IDF log lines on the console the service protocol uses
except Exception:  # noqa: BLE001
    pass
# A locked node has no REPL (SECURITY): Ctrl-C on the cable becomes a plain byte from here on,
# so nothing can interrupt main.py, and main.py never returns (it resets instead).
try:
    import esp32
    import micropython

    if esp32.NVS("citynode").get_i32("locked") == 1:
        micropython.kbd_intr(-1)
except OSError:
    pass  # not locked (no "locked" entry): a development board keeps Ctrl-C and the REPL
except Exception:  # noqa: BLE001 - unreadable lock state: fail closed
    try:
        import micropython

        micropython.kbd_intr(-1)
    except Exception:  # noqa: BLE001
        pass
