# citynode: runs first after every reset. Kept tiny: the node starts in main.py, and a
# failure here must never keep the board from reaching it.
try:
    import esp

    esp.osdebug(None)  # no IDF log lines on the console the service protocol uses
except Exception:  # noqa: BLE001
    pass
