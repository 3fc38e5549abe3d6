#!/usr/bin/env python3
"""A "board" for the rack test: otadev's firmware behind a serial console that
outlives power cycles, switched by a relay that a control socket drives.

  pty_board.py run --link PATH --ctl SOCK --flash DIR [--transcript FILE] -- FIRMWARE...
  pty_board.py ctl SOCK on [FLASH] | off | state | flash [IMAGE] | unplug TEXT SECONDS

run: owns a pseudo-terminal whose slave side is reached by the symlink PATH
(what /dev/serial/by-id/... is on a rack) and holds it open, so a console
server (ser2net) keeps the port open while the board is off. The relay is the
UNIX socket SOCK; a power driver (pdudaemon's localcmdline, or otahil's exec
driver) talks to it through `ctl`:

  on [FLASH]   power on: start FIRMWARE (its argv; "{flash}" in it becomes the
               flash folder: FLASH if given, which is how otahil's exec driver
               passes a case's {state_dir}, else --flash DIR)
  off          a power cut: SIGKILL to the firmware's process group; answers
               once it is dead and its last bytes are on the console
  state        "on" or "off"
  flash [IMAGE]
               the lab's deploy step (a flashing tool): with the power off,
               the flash folder (--flash DIR) is emptied and, given an otadev
               IMAGE, gets it as its only slot, active, as a factory would
               write it; without IMAGE the firmware starts from its factory
               state. Refused while the board is on, as a real flasher fails
  unplug TEXT SECONDS
               at the next console line that contains TEXT (one word), the
               USB-serial adapter goes away (link removed, pty closed) for
               SECONDS and comes back as a new pty behind the same link; what
               the firmware prints meanwhile waits in the board's UART (as with
               hardware flow control) and follows when the adapter is back

The firmware's stdout and stderr go to the console with "\\n" sent as "\\r\\n",
as a board's UART driver does; every byte sent is appended to --transcript.
The console takes one command: a line "panic" makes the board crash (a Guru
Meditation banner, the firmware stops; power stays on), for the death-pattern
test. SIGTERM or SIGINT: the firmware is killed and the link removed.
"""
import argparse
import json
import shutil
import fcntl
import os
import pty
import selectors
import signal
import socket
import struct
import subprocess
import sys
import termios
import time
import tty

BANNER = (b"\r\nGuru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled.\r\n"
          b"Core  0 register dump:\r\nPC      : 0x400d1a2b  PS      : 0x00060330\r\n")


class Board:
    def __init__(self, a):
        self.a = a
        self.sel = selectors.DefaultSelector()
        self.fw = None          # the firmware's Popen while it runs
        self.powered = False
        self.out = bytearray()  # console bytes not yet in the pty
        self.inbuf = bytearray()
        self.master = self.slave = None
        self.unplug = None      # (text, seconds) armed by "unplug"
        self.unplug_at = self.replug_at = None
        self.held = None        # what the UART holds back while the adapter is away
        self.transcript = open(a.transcript, "ab") if a.transcript else None
        self.plug()
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            os.unlink(a.ctl)
        except FileNotFoundError:
            pass
        self.srv.bind(a.ctl)
        self.srv.listen(8)
        self.sel.register(self.srv, selectors.EVENT_READ, self.on_ctl)

    # ---- the adapter (pty) -------------------------------------------------
    def plug(self):
        self.master, self.slave = pty.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        tmp = self.a.link + ".new"
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        os.symlink(os.ttyname(self.slave), tmp)
        os.rename(tmp, self.a.link)  # the link appears whole
        self.sel.register(self.master, selectors.EVENT_READ, self.on_master)
        if self.held is not None:
            self.out += self.held
            self.held = None
        self.flush()

    def unplug_now(self, seconds):
        # the bytes already in the pty must reach the console server first:
        # a real adapter's FIFO drains before the board's power drops it. The
        # kernel moves what the master wrote to the slave's queue a moment
        # later (a work queue), so an empty queue counts only once it stays
        # empty for a while.
        end = time.monotonic() + 2.0
        quiet = 0
        while quiet < 10 and time.monotonic() < end:
            self.flush()
            quiet = quiet + 1 if not self.out and not self.queued() else 0
            time.sleep(0.01)
        self.sel.unregister(self.master)
        os.unlink(self.a.link)
        os.close(self.master)
        os.close(self.slave)
        self.master = self.slave = None
        self.replug_at = time.monotonic() + seconds

    def queued(self):
        buf = fcntl.ioctl(self.slave, termios.FIONREAD, struct.pack("i", 0))
        return struct.unpack("i", buf)[0]

    def console(self, data):
        if self.transcript:
            self.transcript.write(data)
            self.transcript.flush()
        if self.held is not None:
            self.held += data
            return
        self.out += data
        self.flush()

    def flush(self):
        if self.master is None:
            return
        while self.out:
            try:
                n = os.write(self.master, self.out)
            except BlockingIOError:
                break  # nobody reads the port: the terminal's buffer is full
            del self.out[:n]
        want = selectors.EVENT_READ | (selectors.EVENT_WRITE if self.out else 0)
        self.sel.modify(self.master, want, self.on_master)

    def on_master(self, mask):
        if mask & selectors.EVENT_WRITE:
            self.flush()
        if not mask & selectors.EVENT_READ or self.master is None:
            return
        try:
            data = os.read(self.master, 4096)
        except (BlockingIOError, OSError):
            return
        self.inbuf += data
        while True:
            cut = min((i for i in (self.inbuf.find(b"\r"), self.inbuf.find(b"\n")) if i >= 0), default=-1)
            if cut < 0:
                break
            line = bytes(self.inbuf[:cut]).strip()
            del self.inbuf[:cut + 1]
            if line == b"panic":
                self.crash()
        del self.inbuf[:-256]

    # ---- the firmware ------------------------------------------------------
    def power_on(self, flash):
        if self.powered:
            return "on"
        flash = flash or self.a.flash
        os.makedirs(flash, exist_ok=True)
        argv = [x.replace("{flash}", flash) for x in self.a.firmware]
        self.fw = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        os.set_blocking(self.fw.stdout.fileno(), False)
        self.sel.register(self.fw.stdout, selectors.EVENT_READ, self.on_fw)
        self.powered = True
        return "on"

    def stop_fw(self):
        fw, self.fw = self.fw, None
        if not fw:
            return
        try:
            os.killpg(fw.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        fw.wait()
        # every writer is gone: read what it printed up to the cut, then EOF
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            try:
                data = os.read(fw.stdout.fileno(), 65536)
            except BlockingIOError:
                time.sleep(0.005)
                continue
            if not data:
                break
            self.from_fw(data)
        self.sel.unregister(fw.stdout)
        fw.stdout.close()

    def flash(self, image):
        if self.powered:
            raise ValueError("the board is on: flashing needs the power off")
        head = b""
        if image:
            with open(image, "rb") as f:
                head = f.read(64)
            if len(head) < 64 or head[:8] != b"OTAFW1\0\0":
                raise ValueError("%s is not an otadev image" % image)
        shutil.rmtree(self.a.flash, ignore_errors=True)
        os.makedirs(self.a.flash)
        if not image:
            return "erased %s" % self.a.flash
        version = head[24:56].split(b"\0")[0].decode()
        shutil.copyfile(image, os.path.join(self.a.flash, "slot_a.bin"))
        meta = {"active": "a", "slots": {"a": {"version": version}, "b": {"version": ""}},
                "pending": None, "attempts": 0, "last_failure": None}
        with open(os.path.join(self.a.flash, "flash.json"), "w") as f:
            json.dump(meta, f)
        return "flashed %s (version %s) into %s" % (image, version, self.a.flash)

    def power_off(self):
        self.stop_fw()
        self.powered = False
        return "off"

    def crash(self):
        self.stop_fw()
        self.console(BANNER)

    def on_fw(self, mask):
        try:
            data = os.read(self.fw.stdout.fileno(), 65536)
        except BlockingIOError:
            return
        if data:
            self.from_fw(data)
            return
        # the firmware exited by itself (power stays on, as on a board)
        self.sel.unregister(self.fw.stdout)
        self.fw.stdout.close()
        self.fw.wait()
        self.fw = None

    def from_fw(self, data):
        data = data.replace(b"\n", b"\r\n")
        self.console(data)
        if self.unplug and self.master is not None and self.unplug[0] in data:
            # the line goes out; what follows waits; the adapter goes a
            # moment later, once the line has crossed the console server
            self.held = bytearray()
            self.unplug_at = (time.monotonic() + 0.25, self.unplug[1])
            self.unplug = None

    # ---- the relay -----------------------------------------------------------
    def on_ctl(self, mask):
        conn, _ = self.srv.accept()
        with conn:
            conn.settimeout(5)
            req = b""
            while not req.endswith(b"\n"):
                chunk = conn.recv(1024)
                if not chunk:
                    break
                req += chunk
            words = req.decode("utf-8", "replace").split()
            try:
                reply = "ok " + self.command(words)
            except (ValueError, IndexError, OSError) as e:
                reply = "error %s: %s" % (" ".join(words), e)
            conn.sendall(reply.encode() + b"\n")

    def command(self, w):
        if w and w[0] == "on" and len(w) <= 2:
            return self.power_on(w[1] if len(w) == 2 else None)
        if w == ["off"]:
            return self.power_off()
        if w == ["state"]:
            return "on" if self.powered else "off"
        if w and w[0] == "flash" and len(w) <= 2:
            return self.flash(w[1] if len(w) == 2 else None)
        if len(w) == 3 and w[0] == "unplug":
            self.unplug = (w[1].encode(), float(w[2]))
            return "armed"
        raise ValueError("unknown command (on [FLASH], off, state, flash [IMAGE], unplug TEXT SECONDS)")

    def loop(self):
        while True:
            timeout = None
            due = self.unplug_at[0] if self.unplug_at else self.replug_at
            if due is not None:
                timeout = max(0.0, due - time.monotonic())
            for key, mask in self.sel.select(timeout):
                key.data(mask)
            if self.unplug_at and time.monotonic() >= self.unplug_at[0]:
                seconds = self.unplug_at[1]
                self.unplug_at = None
                self.unplug_now(seconds)
            if self.replug_at is not None and time.monotonic() >= self.replug_at:
                self.replug_at = None
                self.plug()

    def close(self):
        self.stop_fw()
        for p in (self.a.link, self.a.ctl):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass


def ctl(sock, words):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.connect(sock)
        s.sendall((" ".join(words) + "\n").encode())
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = s.recv(1024)
            if not chunk:
                break
            reply += chunk
    except OSError as e:
        print("pty_board: %s: %s" % (sock, e), file=sys.stderr)
        return 1
    reply = reply.decode().strip()
    if not reply.startswith("ok "):
        print("pty_board: %s" % (reply or "no answer"), file=sys.stderr)
        return 1
    print(reply[3:])
    return 0


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "ctl":
        return ctl(sys.argv[2], sys.argv[3:])
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["run"])
    ap.add_argument("--link", required=True)
    ap.add_argument("--ctl", required=True)
    ap.add_argument("--flash", required=True)
    ap.add_argument("--transcript")
    ap.add_argument("firmware", nargs="+")
    a = ap.parse_args()
    board = Board(a)

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        board.loop()
    finally:
        board.close()


if __name__ == "__main__":
    sys.exit(main())
