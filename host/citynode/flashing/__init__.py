"""Flashing MicroPython onto ESP32 boards with esptool: image checks, one process per board.

    boards.py    chip and flash offset from boards/NAME.json
    image.py     refuse a wrong, truncated or corrupt firmware file before touching a board
    worker.py    drive esptool for one board (run as its own process)
    runner.py    flash many boards concurrently, collect per-board results
    failures.py  esptool/pyserial errors -> one message and what to do
    report.py    progress bars and the final table
    handoff.py   the next step after flashing (citynode deploy)
"""
