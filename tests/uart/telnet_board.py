#!/usr/bin/env python3
"""A board on a pseudo-terminal (reached by --link, as board.py) for the telnet
console test: binary bytes both ways, and the line speed a console server set.

After --start-delay it writes, exactly:
    "U-Boot 2024.01\\r\\n"
    "key \\xff\\xfe end\\r\\n"          (a 0xFF data byte: IAC IAC on a telnet wire)
    "login: "
then reads one line (up to "\\n", --read-timeout seconds) and answers
    "got <hex of every byte read> baud <the terminal's output speed>\\r\\n"
The speed is what a console server set on the terminal (ser2net's connector
settings, or an RFC 2217 SET-BAUDRATE from the client). Then it stays up.
"""
import argparse
import os
import select
import termios
import time

from board import plug, run, stay_up  # the pty behind --link, as board.py makes it

SPEEDS = {getattr(termios, "B%d" % n): n for n in (
    50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200, 38400,
    57600, 115200, 230400, 460800, 500000, 576000, 921600, 1000000) if hasattr(termios, "B%d" % n)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--link", required=True)
    ap.add_argument("--start-delay", type=float, default=0.5)
    ap.add_argument("--read-timeout", type=float, default=30)
    a = ap.parse_args()
    master, slave = plug(a.link)
    time.sleep(a.start_delay)  # let the console server open the port first
    os.write(master, b"U-Boot 2024.01\r\nkey \xff\xfe end\r\nlogin: ")
    got = b""
    end = time.monotonic() + a.read_timeout
    while not got.endswith(b"\n") and time.monotonic() < end:
        r, _, _ = select.select([master], [], [], 0.1)
        if r:
            got += os.read(master, 256)
    speed = SPEEDS.get(termios.tcgetattr(slave)[5], -1)
    os.write(master, b"got %s baud %d\r\n" % (got.hex().encode(), speed))
    stay_up()


if __name__ == "__main__":
    run(main)
