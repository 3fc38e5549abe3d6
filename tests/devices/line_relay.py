#!/usr/bin/python3
"""line_relay: two pseudo-terminals relayed, with faults, for device smoke tests.

Like otahil's serial relay, in miniature: it opens two ptys (pty.openpty),
writes their slave paths to --paths-file ("MODULE_PATH MCU_PATH\\n"), keeps
both slaves open (a peer that closes never hangs the line up) and copies the
bytes between the masters. "down" is module -> MCU.

Faults come from --ctl, a file re-read whenever it changes, one per line:
  corrupt-every K    XOR 0x55 into one byte in every K going down
  drop-all           drop every byte, both ways (a dead line)
  clear              no faults
Counters (bytes down/up, corrupted, dropped) are written to --stats after
every change, one line: "down=N up=N corrupted=N dropped=N".
"""

import argparse
import os
import pty
import select
import sys
import time
import tty


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--paths-file", required=True)
    p.add_argument("--ctl", required=True)
    p.add_argument("--stats", required=True)
    a = p.parse_args()
    ends = []
    for _ in range(2):
        m, s = pty.openpty()
        tty.setraw(s)
        tty.setraw(m)
        os.set_blocking(m, False)
        ends.append((m, s, os.ttyname(s)))
    (ma, _sa, pa), (mb, _sb, pb) = ends
    tmp = a.paths_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%s %s\n" % (pa, pb))
    os.replace(tmp, a.paths_file)
    every, dead = 0, False
    ctl_mtime = None
    n = {"down": 0, "up": 0, "corrupted": 0, "dropped": 0}
    since_corrupt = 0

    def stats():
        t = a.stats + ".tmp"
        with open(t, "w") as f:
            f.write(" ".join("%s=%d" % kv for kv in n.items()) + "\n")
        os.replace(t, a.stats)

    stats()
    while True:
        try:
            st = os.stat(a.ctl).st_mtime_ns
        except FileNotFoundError:
            st = None
        if st != ctl_mtime:
            ctl_mtime = st
            every, dead = 0, False
            if st is not None:
                for line in open(a.ctl):
                    w = line.split()
                    if w[:1] == ["corrupt-every"] and len(w) == 2 and w[1].isdigit():
                        every = int(w[1])
                    elif w[:1] == ["drop-all"]:
                        dead = True
            since_corrupt = 0
        r, _, _ = select.select([ma, mb], [], [], 0.05)
        for src in r:
            try:
                data = bytearray(os.read(src, 65536))
            except (BlockingIOError, OSError):
                continue
            down = src == ma
            n["down" if down else "up"] += len(data)
            if dead:
                n["dropped"] += len(data)
                stats()
                continue
            if down and every:
                for i in range(len(data)):
                    since_corrupt += 1
                    if since_corrupt >= every:
                        since_corrupt = 0
                        data[i] ^= 0x55
                        n["corrupted"] += 1
            dst = mb if down else ma
            view = bytes(data)
            deadline = time.monotonic() + 2
            while view and time.monotonic() < deadline:
                try:
                    k = os.write(dst, view)
                    view = view[k:]
                except BlockingIOError:
                    time.sleep(0.001)
            stats()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        pass
