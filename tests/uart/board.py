#!/usr/bin/env python3
"""A "board" whose UART is a pseudo-terminal: what a USB-serial adapter looks like
to the harness. The slave side is reached by a symlink (--link), as a lab's
/dev/serial/by-id/... is. The board holds the slave open itself, so what it
writes while nobody listens waits in the terminal's buffer, as on a real line
with a console server.

It writes "line 0001\\r\\n" ... "line NNNN\\r\\n", then "done\\r\\n", and stays up.
  --pause-after K --pause S     be quiet S seconds after line K (a safe moment to
                                restart a console server)
  --unplug-after K --unplug S   after line K the adapter goes away (pty closed,
                                link removed) for S seconds, then comes back as a
                                new pty behind the same link; the lines go on
  --progress FILE               the number of the last line written
"""
import argparse
import os
import pty
import sys
import time
import tty


def plug(link):
    master, slave = pty.openpty()
    tty.setraw(slave)
    tmp = link + ".new"
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    os.symlink(os.ttyname(slave), tmp)
    os.rename(tmp, link)  # the link appears whole
    return master, slave


def stay_up():
    """As a board, stays up until the harness stops it."""
    while True:
        time.sleep(60)


def run(main):
    """Runs main; Ctrl-C (the harness stopping the board) is a clean exit."""
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)


def progress(path, n):
    if not path:
        return
    with open(path + ".tmp", "w") as f:
        f.write(str(n))
    os.rename(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--link", required=True)
    ap.add_argument("--lines", type=int, default=50)
    ap.add_argument("--interval", type=float, default=0.01)
    ap.add_argument("--pause-after", type=int, default=0)
    ap.add_argument("--pause", type=float, default=0)
    ap.add_argument("--unplug-after", type=int, default=0)
    ap.add_argument("--unplug", type=float, default=0)
    ap.add_argument("--start-delay", type=float, default=0.5)
    ap.add_argument("--progress")
    a = ap.parse_args()
    master, slave = plug(a.link)
    time.sleep(a.start_delay)  # let the console find the port first
    for i in range(1, a.lines + 1):
        os.write(master, b"line %04d\r\n" % i)
        progress(a.progress, i)
        if i == a.pause_after:
            time.sleep(a.pause)
        if i == a.unplug_after:
            time.sleep(0.1)  # the last line leaves before the port goes
            os.unlink(a.link)
            os.close(master)
            os.close(slave)
            time.sleep(a.unplug)
            master, slave = plug(a.link)
        time.sleep(a.interval)
    os.write(master, b"done\r\n")
    progress(a.progress, a.lines + 1)
    stay_up()


if __name__ == "__main__":
    run(main)
