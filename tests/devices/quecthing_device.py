#!/usr/bin/python3
"""quecthing_device: an independent Quectel QuecThing device (module + MCU), in Python.

It exists to prove that the quecthing suite judges the *protocol*, not our C
emulator: it shares no code, no image format and no serial framing with otadev
or otamcu.  It follows the QuecThing seeds (/work/shared/seeds/000_*.txt FOTA,
002_*.txt SOTA) and the JSON-over-MQTT dialect that otahil's cloud defines
(the header comment of scenarios/lib/quecthing.lua):

  qth/PK/DN/up    device -> cloud: version, setMcuVer, otaRequest, otaAction,
                  otaStep, fotaResult, sotaResult
  qth/PK/DN/down  cloud -> device: otaPlan, userConfirm, fotaInfo, sotaInfo
  qth/PK/DN/lab   the lab -> the module's sensors {battery, signal, disk}

With --ca CA.pem the module reaches the cloud over TLS, as production
firmware does: MQTT over TLS and https:// downloads, the server's chain and
host name verified against that CA (Python's ssl); no login is signed (no
public document gives QuecThing's: docs/tls.md).

Commands
  run      be the module (and start its MCU) until SIGTERM or SIGKILL
  mcu      be the MCU behind the serial line (the module starts it)
  mkimage  write a firmware image in this device's format

Module flash (--state DIR; every record is temp file + fsync + rename +
directory fsync, so a SIGKILL at any instant leaves the old or the new one):
  boot.json    A/B table: active slot, pending slot, slot records, and the
               result owed to the cloud once the new firmware booted (or not)
  slot_a.img slot_b.img   burnt module images (the factory slot has none)
  dl.json      breakpoint: comp, version, md5, size, offset (bytes synced)
  dl.part      the partial download; only its first `offset` bytes count
  job.json     the plan being worked on: if it is still there at power-on, the
               update was interrupted and its result is -5 (the protocol's
               "update failed (also: interrupted)")
  env.json     the last sensor values the lab gave (the module's surroundings)
  mcu.json     the MCU version the module last heard of
  mcu/         the MCU's own flash (written by the MCU process only)

Image format ("PQFW", exactly --size bytes, big-endian numbers):
  8-byte magic 89 'P' 'Q' 'F' 'W' 0d 0a 1a | u32 meta length | meta JSON
  {"fmt":1,"version":V,"boots":true|false,"payload":N} | N pseudo-random bytes
  (seeded by version and size) | u32 total length | u32 CRC-32 of all before

Module <-> MCU framing (our own): 0x7E, then the HDLC-escaped body
(0x7E -> 7D 5E, 0x7D -> 7D 5D), then 0x7E.  Body: u8 format 1 | u8 type |
u16 session | u32 seq | u16 length | payload | u32 CRC-32 of the fields
before.  Stop-and-wait: the module sends and retransmits, the MCU answers.
  HELLO 01 -> INFO 81 {name, version, crc32, boot_id} (INFO also unasked at boot)
  BEGIN 02 {size, crc32, sha256, version} -> READY 82 {next} | NAK 8F {why}
  DATA  03 seq=offset, bytes -> ACK 83 seq=next offset expected
  END   04 -> DONE 84 {ok, code, why}; then the MCU installs and reboots
  REJ   8E (MCU -> module): "I just dropped a damaged frame"
A frame with a bad CRC is dropped. The module resends on a timeout, at once
on a REJ or when it drops a damaged answer itself, and halves its chunk while
frames keep getting lost (a line that damages one byte in K still passes
frames shorter than K).
"""

import argparse
import ctypes
import hashlib
import http.client
import json
import os
import queue
import random
import select
import signal
import socket
import ssl
import struct
import subprocess
import sys
import termios
import threading
import time
import tty
import urllib.parse
import zlib

try:
    import paho.mqtt.client as mqtt
except ImportError:  # mkimage and mcu work without paho; run says so clearly
    mqtt = None

# ---------------------------------------------------------------- constants

RC_OK, RC_DOWNLOAD, RC_NOFILE, RC_EXPIRED, RC_MD5 = 0, -1, -2, -3, -4
RC_UPDATE, RC_CRC32, RC_SHA256, RC_TRANSFER = -5, -6, -7, -8

IMG_MAGIC = b"\x89PQFW\r\n\x1a"
IMG_META_MAX = 4096
MAX_MODULE_IMAGE = 64 * 1024 * 1024
MAX_MCU_IMAGE = 16 * 1024 * 1024
MCU_FACTORY_SIZE = 16 * 1024
MAX_MSG = 16 * 1024                  # larger MQTT messages are garbage
CHUNK = 8 * 1024
PERSIST_BYTES = 64 * 1024            # breakpoint synced at least this often...
PERSIST_SECS = 0.2                   # ...or this often
SELF_RETRIES = 4                     # --retry self: attempts without progress
INFO_WAIT_SECS = 30                  # accepted plan without file info: forgotten

BUGS = ("accept-low-battery", "no-resume", "skip-crc32", "result-before-reboot")

_console_lock = threading.Lock()
_tag = "pyquec"


def say(fmt, *args):
    """One console line, written at once (one write: the MCU shares the pty)."""
    line = (fmt % args) if args else fmt
    data = ("[%s] %s\n" % (_tag, line)).encode("utf-8", "replace")
    with _console_lock:
        try:
            while data:
                n = os.write(1, data)
                data = data[n:]
        except OSError:
            pass  # a closed console must not stop the device


# ---------------------------------------------------------------- flash helpers

def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path, data):
    """Replaces `path` by `data` so that a power cut leaves old or new, never half."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(os.path.dirname(path) or ".")


def save_json(path, obj):
    write_atomic(path, json.dumps(obj, sort_keys=True).encode() + b"\n")


def read_json(path):
    """The parsed object, or None if the file is missing or unreadable."""
    try:
        with open(path, "rb") as f:
            return json.loads(f.read().decode("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, UnicodeDecodeError) as e:
        say("flash: %s unreadable (%s), ignored", os.path.basename(path), e)
        return None


def remove_quiet(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def file_digests(path):
    """(size, md5 hex, crc32 int, sha256 hex) of a file."""
    md5, sha, crc, n = hashlib.md5(), hashlib.sha256(), 0, 0
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 16)
            if not b:
                break
            md5.update(b)
            sha.update(b)
            crc = zlib.crc32(b, crc)
            n += len(b)
    return n, md5.hexdigest(), crc & 0xFFFFFFFF, sha.hexdigest()


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def is_hex(v, n):
    return (isinstance(v, str) and len(v) == n
            and all(c in "0123456789abcdefABCDEF" for c in v))


def is_version(v):
    return isinstance(v, str) and 0 < len(v) <= 64 and v.isprintable()


# ---------------------------------------------------------------- image format

def image_bytes(version, size, boots=True):
    """An image of exactly `size` bytes; ValueError if impossible."""
    payload = 0
    for _ in range(4):  # the meta holds the payload length, whose digits move it
        meta = json.dumps({"fmt": 1, "version": version, "boots": boots,
                           "payload": payload}, sort_keys=True).encode()
        want = size - len(IMG_MAGIC) - 4 - len(meta) - 8
        if want < 0:
            raise ValueError("size %d is smaller than the header (%d bytes)"
                             % (size, size - want))
        if want == payload:
            break
        payload = want
    else:
        raise ValueError("no stable header for size %d" % size)
    if len(meta) > IMG_META_MAX:
        raise ValueError("version too long")
    body = (IMG_MAGIC + struct.pack(">I", len(meta)) + meta
            + random.Random("pqfw:%s:%d" % (version, size)).randbytes(payload))
    body += struct.pack(">I", len(body) + 8)
    return body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def image_check(path):
    """Reads an image file; returns (meta, None) or (None, why)."""
    try:
        total = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(len(IMG_MAGIC) + 4)
            if len(head) < len(IMG_MAGIC) + 4 or not head.startswith(IMG_MAGIC):
                return None, "not a PQFW image (bad magic)"
            (mlen,) = struct.unpack(">I", head[len(IMG_MAGIC):])
            if mlen > IMG_META_MAX:
                return None, "meta length %d too large" % mlen
            raw = f.read(mlen)
            try:
                meta = json.loads(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as e:
                return None, "meta JSON: %s" % e
            if (not isinstance(meta, dict) or meta.get("fmt") != 1
                    or not is_version(meta.get("version"))
                    or not isinstance(meta.get("boots"), bool)
                    or not is_int(meta.get("payload"))):
                return None, "meta fields missing or of the wrong type"
            want = len(IMG_MAGIC) + 4 + mlen + meta["payload"] + 8
            if total != want:
                return None, "length %d, header says %d" % (total, want)
            f.seek(0)
            crc, left = 0, total - 4
            while left > 0:
                b = f.read(min(left, 1 << 16))
                if not b:
                    return None, "short read"
                crc = zlib.crc32(b, crc)
                left -= len(b)
            tail = f.read(4)
            f.seek(total - 8)
            (tlen,) = struct.unpack(">I", f.read(4))
            if tlen != total or struct.unpack(">I", tail)[0] != crc & 0xFFFFFFFF:
                return None, "trailer CRC-32 or length mismatch"
            return meta, None
    except OSError as e:
        return None, "cannot read: %s" % e


def cmd_mkimage(a):
    try:
        data = image_bytes(a.version, a.size, boots=not a.fail_boot)
        write_atomic(os.path.abspath(a.output), data)
    except (ValueError, OSError) as e:
        print("mkimage: %s: %s" % (a.output, e), file=sys.stderr)
        return 1
    print("mkimage: %s version %s size %d md5 %s crc32 %08x sha256 %s%s" % (
        a.output, a.version, len(data), hashlib.md5(data).hexdigest(),
        zlib.crc32(data) & 0xFFFFFFFF, hashlib.sha256(data).hexdigest(),
        " (fails to boot)" if a.fail_boot else ""))
    return 0


# ---------------------------------------------------------------- serial framing

FLAG, ESC = 0x7E, 0x7D
F_HELLO, F_BEGIN, F_DATA, F_END = 0x01, 0x02, 0x03, 0x04
F_INFO, F_READY, F_ACK, F_DONE, F_NAK = 0x81, 0x82, 0x83, 0x84, 0x8F
F_REJ = 0x8E
HDR = struct.Struct(">BBHIH")
MAX_FRAME = 4096


class Frame:
    __slots__ = ("type", "sid", "seq", "payload")

    def __init__(self, ftype, sid, seq, payload):
        self.type, self.sid, self.seq, self.payload = ftype, sid, seq, payload

    def json(self):
        try:
            v = json.loads(self.payload.decode("utf-8"))
            return v if isinstance(v, dict) else {}
        except (ValueError, UnicodeDecodeError):
            return {}


def frame_encode(ftype, sid, seq, payload=b""):
    body = HDR.pack(1, ftype, sid & 0xFFFF, seq & 0xFFFFFFFF, len(payload)) + payload
    body += struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    out = bytearray([FLAG])
    for b in body:
        if b == FLAG or b == ESC:
            out.append(ESC)
            out.append(b ^ 0x20)
        else:
            out.append(b)
    out.append(FLAG)
    return bytes(out)


class Deframer:
    """Bytes in, whole frames out; anything damaged is counted and dropped."""

    def __init__(self, check_crc=True):
        self.buf = bytearray()
        self.esc = False
        self.bad = 0
        self.check_crc = check_crc

    def feed(self, data):
        out = []
        for b in data:
            if b == FLAG:
                if self.buf:
                    f = self.decode(bytes(self.buf))
                    if f is None:
                        self.bad += 1
                    else:
                        out.append(f)
                self.buf.clear()
                self.esc = False
            elif len(self.buf) > MAX_FRAME:
                continue  # runaway without a flag: wait for the next flag
            elif self.esc:
                self.buf.append(b ^ 0x20)
                self.esc = False
            elif b == ESC:
                self.esc = True
            else:
                self.buf.append(b)
        return out

    def decode(self, body):
        if len(body) < HDR.size + 4 or len(body) > MAX_FRAME:
            return None
        fmt, ftype, sid, seq, n = HDR.unpack_from(body)
        if fmt != 1 or n != len(body) - HDR.size - 4:
            return None
        if self.check_crc and struct.unpack(">I", body[-4:])[0] != zlib.crc32(body[:-4]) & 0xFFFFFFFF:
            return None
        return Frame(ftype, sid, seq, body[HDR.size:-4])


def open_line(path):
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        tty.setraw(fd)
    except termios.error:
        pass  # not a tty (a test's pipe): raw already
    return fd


def write_all(fd, data, timeout=1.0):
    """Writes `data` within `timeout` s; returns False if the line would not take it."""
    deadline = time.monotonic() + timeout
    while data:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            _, w, _ = select.select([], [fd], [], left)
            if not w:
                continue
            n = os.write(fd, data)
            data = data[n:]
        except BlockingIOError:
            continue
        except InterruptedError:
            continue
        except OSError:
            return False
    return True


# ---------------------------------------------------------------- errors

class UpdateFail(Exception):
    """A failed update: result code and message."""

    def __init__(self, code, msg):
        super().__init__(msg)
        self.code, self.msg = code, msg


class Broken(Exception):
    """The download connection broke: resumable from the current offset."""


class LineRestart(Exception):
    """The MCU lost the session (NAK): start the transfer again."""


# ---------------------------------------------------------------- MCU link (module side)

class McuLink:
    """The module's end of the serial line: a reader thread and stop-and-wait calls."""

    def __init__(self, path, on_info):
        self.path = path
        self.on_info = on_info
        self.fd = None
        self.replies = queue.Queue(maxsize=256)
        self.lock = threading.Lock()          # one conversation at a time
        self.info = None                      # the MCU's last INFO
        self.info_cv = threading.Condition()
        self.deframer = Deframer()
        self.bad_seen = 0

    def start(self):
        try:
            self.fd = open_line(self.path)
        except OSError as e:
            say("mcu-line: cannot open %s: %s (will retry)", self.path, e)
        threading.Thread(target=self.reader, name="mcu-line", daemon=True).start()

    def reader(self):
        while True:
            if self.fd is None:
                time.sleep(0.5)
                try:
                    self.fd = open_line(self.path)
                    say("mcu-line: %s open", self.path)
                except OSError:
                    continue
            try:
                r, _, _ = select.select([self.fd], [], [], 0.5)
                if not r:
                    continue
                data = os.read(self.fd, 4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as e:
                say("mcu-line: read error %s, reopening", e)
                try:
                    os.close(self.fd)
                except OSError:
                    pass
                self.fd = None
                continue
            if not data:
                time.sleep(0.05)
                continue
            for f in self.deframer.feed(data):
                self.dispatch(f)
            if self.deframer.bad != self.bad_seen:
                self.bad_seen = self.deframer.bad
                self.put_reply(Frame(F_REJ, 0, 0, b""))  # an answer was lost
                if self.bad_seen <= 3 or self.bad_seen % 50 == 0:
                    say("mcu-line: %d damaged frame(s) dropped so far", self.bad_seen)

    def dispatch(self, f):
        if f.type == F_INFO:
            info = f.json()
            if is_version(info.get("version")):
                with self.info_cv:
                    self.info = info
                    self.info_cv.notify_all()
                try:
                    self.on_info(info)
                except Exception as e:  # never kill the reader
                    say("mcu-line: info handler: %r", e)
            return
        self.put_reply(f)

    def put_reply(self, f):
        try:
            self.replies.put_nowait(f)
        except queue.Full:  # nobody is listening: line noise, not answers
            pass

    def send(self, ftype, sid, seq, payload=b""):
        if self.fd is None:
            return False
        return write_all(self.fd, frame_encode(ftype, sid, seq, payload))

    def call(self, ftype, sid, seq, payload, accept, rto):
        """Sends one frame, waits `rto` s for a reply that `accept`s; None if none."""
        while True:  # stale replies of earlier frames are of no use now
            try:
                self.replies.get_nowait()
            except queue.Empty:
                break
        self.send(ftype, sid, seq, payload)
        deadline = time.monotonic() + rto
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                f = self.replies.get(timeout=left)
            except queue.Empty:
                return None
            if f.type == F_REJ:
                return None  # damaged on the way, one way or the other: resend now
            if accept(f):
                return f

    def hello(self, timeout):
        """Asks the MCU who it is; returns its INFO or None within `timeout` s."""
        deadline = time.monotonic() + timeout
        with self.info_cv:
            start = self.info
        while time.monotonic() < deadline:
            self.send(F_HELLO, 0, 0)
            with self.info_cv:
                self.info_cv.wait_for(lambda: self.info is not start,
                                      timeout=min(0.3, max(0.01, deadline - time.monotonic())))
                if self.info is not start:
                    return self.info
        return None

    def wait_boot(self, old_boot_id, timeout):
        """Waits for an INFO with another boot_id (the MCU rebooted); polls with HELLO."""
        deadline = time.monotonic() + timeout
        next_hello = time.monotonic() + 0.5
        while True:
            with self.info_cv:
                if self.info is not None and self.info.get("boot_id") != old_boot_id:
                    return self.info
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.info_cv.wait(timeout=min(0.1, left))
            if time.monotonic() >= next_hello:
                self.send(F_HELLO, 0, 0)
                next_hello = time.monotonic() + 0.5


# ---------------------------------------------------------------- the module

class Module:
    def __init__(self, a):
        self.a = a
        self.bug = set(a.bug or [])
        self.state = os.path.abspath(a.state)
        self.p_boot = os.path.join(self.state, "boot.json")
        self.p_dl = os.path.join(self.state, "dl.json")
        self.p_part = os.path.join(self.state, "dl.part")
        self.p_env = os.path.join(self.state, "env.json")
        self.p_mcu = os.path.join(self.state, "mcu.json")
        self.p_job = os.path.join(self.state, "job.json")
        self.interrupted = None     # the job record found at power-on
        base = "qth/%s/%s/" % (a.product, a.device)
        self.t_up, self.t_down, self.t_lab = base + "up", base + "down", base + "lab"
        self.events = queue.Queue()
        self.client = None
        self.connected = threading.Event()
        self.boot = None
        self.version = None
        self.env = {"battery": a.battery, "signal": a.signal, "disk": a.disk}
        self.env_lock = threading.Lock()
        self.mcu_name = a.mcu
        self.mcu_version = a.mcu_version
        self.mcu_reported = None    # the MCU version the cloud last heard
        self.mcu_proc = None
        self.mcu_respawn_at = 0.0
        self.link = None
        # plans (main thread only)
        self.active = None          # {"key","plan","state","since","comp"}
        self.waiting = {}           # plan key -> plan awaiting the user's confirmation
        self.job_thread = None
        self.rate_at = -1e9         # when the last percent report went out
        self.rate_lock = threading.Lock()
        if a.progress == "every":
            self.rate_ms = None
        else:
            self.rate_ms = int(a.progress.split(":", 1)[1])

    # ------------------------------------------------------------ power-on

    def slot_path(self, slot):
        return os.path.join(self.state, "slot_%s.img" % slot)

    def save_boot(self):
        save_json(self.p_boot, self.boot)

    @staticmethod
    def boot_table_ok(b):
        try:
            return (b["active"] in ("a", "b") and b["pending"] in (None, "a", "b")
                    and is_version(b["slots"][b["active"]]["version"]) and "owed" in b)
        except (KeyError, TypeError):
            return False

    def slot_check(self, slot):
        rec = (self.boot["slots"] or {}).get(slot)
        if not rec:
            return None, "slot %s is empty" % slot
        if rec.get("factory"):
            return {"version": rec["version"], "boots": True}, None
        meta, why = image_check(self.slot_path(slot))
        if meta is None:
            return None, why
        try:
            crc = file_digests(self.slot_path(slot))[2]
        except OSError as e:
            return None, str(e)
        if crc != rec.get("crc32") or meta["version"] != rec.get("version"):
            return None, "slot %s differs from its record" % slot
        return meta, None

    def do_boot(self):
        """The module's bootloader: a pending slot is tried once, rolled back if it fails."""
        os.makedirs(self.state, exist_ok=True)
        remove_quiet(self.p_boot + ".tmp")
        self.boot = read_json(self.p_boot)
        if not self.boot_table_ok(self.boot):
            self.boot = {"active": "a", "pending": None, "owed": None,
                         "slots": {"a": {"version": self.a.version, "factory": True},
                                   "b": None}}
            self.save_boot()
            say("flash: factory state, module version %s in slot a", self.a.version)
        say("boot: active slot %s, pending %s", self.boot["active"],
            self.boot["pending"] or "none")
        time.sleep(self.a.boot_ms / 1000.0)  # a power cut here: pending stays pending
        pend = self.boot["pending"]
        if pend:
            meta, why = self.slot_check(pend)
            if meta is not None and not meta.get("boots"):
                meta, why = None, "the image does not start"
            owed = self.boot.get("owed") or {}
            tried = (self.boot["slots"].get(pend) or {}).get("version", "?")
            old = self.boot["slots"][self.boot["active"]]["version"]
            if meta is not None:
                self.boot["active"] = pend
                owed.update(code=RC_OK, msg="upgraded to %s" % tried)
                say("boot: slot %s version %s started, kept", pend, tried)
            else:
                owed.update(code=RC_UPDATE, msg="version %s failed to boot (%s); rolled "
                            "back to %s" % (tried, why, old))
                say("boot: slot %s version %s failed to boot (%s); rolled back to slot "
                    "%s", pend, tried, why, self.boot["active"])
            self.boot["pending"] = None
            self.boot["owed"] = owed if owed.get("plan_id") is not None else None
            self.save_boot()
        act = self.boot["active"]
        meta, why = self.slot_check(act)
        if meta is None:
            say("boot: WARNING active slot %s does not verify: %s", act, why)
        remove_quiet(self.p_job + ".tmp")
        job = read_json(self.p_job)
        owed = self.boot.get("owed") or {}
        if isinstance(job, dict) and job.get("kind") in ("fotaResult", "sotaResult") \
                and "plan_id" in job and job.get("plan_id") != owed.get("plan_id"):
            self.interrupted = job
            say("boot: the update of plan %s was interrupted; its result is owed",
                job.get("plan_id"))
        elif job is not None:
            remove_quiet(self.p_job)
        self.version = self.boot["slots"][act]["version"]
        say("boot: module running version %s from slot %s", self.version, act)

    def load_env(self):
        e = read_json(self.p_env)
        if isinstance(e, dict):
            for k in ("battery", "signal", "disk"):
                if is_num(e.get(k)):
                    self.env[k] = e[k]
        say("sensors: battery %s%%, signal %s dBm, disk %s bytes free",
            self.env["battery"], self.env["signal"], self.env["disk"])

    # ------------------------------------------------------------ the MCU

    def mcu_spawn(self):
        """Starts the MCU process (main thread only: its parent-death signal is
        tied to the thread that forks it)."""
        if not (self.mcu_name and self.a.mcu_peer_tty):
            return
        argv = [sys.executable, os.path.abspath(__file__), "mcu",
                "--tty", self.a.mcu_peer_tty, "--state", os.path.join(self.state, "mcu"),
                "--name", self.mcu_name, "--version", self.a.mcu_version,
                "--boot-ms", str(self.a.boot_ms), "--parent", str(os.getpid())]
        try:
            self.mcu_proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                             close_fds=True)
            say("mcu: started the MCU process (pid %d) on %s", self.mcu_proc.pid,
                self.a.mcu_peer_tty)
        except OSError as e:
            self.mcu_proc = None
            self.mcu_respawn_at = time.monotonic() + 2
            say("mcu: cannot start the MCU process: %s", e)

    def mcu_supervise(self):
        p = self.mcu_proc
        if p is not None and p.poll() is not None:
            say("mcu: the MCU process exited (%s); restarting it", p.returncode)
            self.mcu_proc = None
            self.mcu_respawn_at = time.monotonic() + 1
        if (self.mcu_proc is None and self.mcu_name and self.a.mcu_peer_tty
                and time.monotonic() >= self.mcu_respawn_at):
            self.mcu_spawn()
            if self.mcu_proc is None:
                self.mcu_respawn_at = time.monotonic() + 2

    def mcu_stop(self):
        p, self.mcu_proc = self.mcu_proc, None
        if p is None:
            return
        try:
            p.terminate()
            p.wait(timeout=0.5)
        except (OSError, subprocess.TimeoutExpired):
            try:
                p.kill()
                p.wait(timeout=0.5)
            except (OSError, subprocess.TimeoutExpired):
                pass

    def on_mcu_info(self, info):
        """The reader thread heard the MCU's INFO."""
        v = info.get("version")
        if v != self.mcu_version:
            self.mcu_version = v
            try:
                save_json(self.p_mcu, {"version": v})
            except OSError as e:
                say("flash: mcu.json: %s", e)
        self.events.put(("mcu_info",))

    def mcu_load_known(self):
        rec = read_json(self.p_mcu)
        if isinstance(rec, dict) and is_version(rec.get("version")):
            self.mcu_version = rec["version"]

    # ------------------------------------------------------------ MQTT

    def mqtt_start(self):
        c = mqtt.Client(client_id="qth-%s-%s" % (self.a.product, self.a.device),
                        clean_session=True, protocol=mqtt.MQTTv311)
        c.on_connect = self.on_connect
        c.on_disconnect = self.on_disconnect
        c.on_message = self.on_message
        c.on_connect_fail = self.on_connect_fail
        c.reconnect_delay_set(min_delay=0.5, max_delay=2)
        if self.a.ca:  # MQTT over TLS: the broker's chain and name verified against the CA
            c.tls_set(ca_certs=self.a.ca)
        self.connect_failing = False
        self.connected.clear()
        c.connect_async(self.a.host, self.a.port, keepalive=30)
        c.loop_start()
        self.client = c
        say("mqtt: connecting to %s:%d", self.a.host, self.a.port)

    def mqtt_stop(self):
        c, self.client = self.client, None
        self.connected.clear()
        if c is not None:
            try:
                c.disconnect()
            except Exception:
                pass
            c.loop_stop()

    def on_connect(self, client, userdata, flags, rc):
        try:
            if rc != 0:
                say("mqtt: connect refused rc=%d", rc)
                return
            self.connect_failing = False
            client.subscribe([(self.t_down, 1), (self.t_lab, 1)])
            self.connected.set()
            say("mqtt: connected")
            self.events.put(("connected", client))
        except Exception as e:  # an exception would kill paho's thread
            say("mqtt: on_connect: %r", e)

    def on_connect_fail(self, client, userdata):
        if not self.connect_failing:
            self.connect_failing = True
            say("mqtt: cannot reach %s:%d, retrying", self.a.host, self.a.port)

    def on_disconnect(self, client, userdata, rc):
        self.connected.clear()
        if rc != 0:
            say("mqtt: connection lost (rc=%d), reconnecting", rc)

    def on_message(self, client, userdata, msg):
        try:
            if msg.topic == self.t_lab:
                self.on_lab(msg.payload)
            else:
                self.events.put(("msg", msg.topic, msg.payload))
        except Exception as e:
            say("mqtt: message on %s not handled: %r", msg.topic, e)

    def publish(self, obj, client=None):
        c = client or self.client
        if c is None:
            return None
        data = json.dumps(obj, separators=(",", ":"))
        say("mqtt > %s", data)
        try:
            return c.publish(self.t_up, data, qos=1)
        except (ValueError, RuntimeError) as e:
            say("mqtt: publish failed: %r", e)
            return None

    @staticmethod
    def wait_published(info, timeout=2.0):
        if info is None:
            return False
        try:
            info.wait_for_publish(timeout=timeout)
            return info.is_published()
        except (RuntimeError, ValueError):
            return False

    def on_lab(self, payload):
        """The lab's knob for the sensors (not QuecThing)."""
        try:
            m = json.loads(payload.decode("utf-8")) if len(payload) <= MAX_MSG else None
        except (ValueError, UnicodeDecodeError):
            m = None
        if not isinstance(m, dict):
            say("sensors: ignored a lab message that is not a JSON object")
            return
        with self.env_lock:
            changed = []
            for k in ("battery", "signal", "disk"):
                if k in m:
                    if is_num(m[k]):
                        self.env[k] = m[k]
                        changed.append("%s=%s" % (k, m[k]))
                    else:
                        say("sensors: ignored %s=%r (not a number)", k, m[k])
            if changed:
                try:
                    save_json(self.p_env, self.env)
                except OSError as e:
                    say("flash: env.json: %s", e)
        if changed:
            say("sensors: %s", ", ".join(changed))

    # ------------------------------------------------------------ messages up

    def send_version(self, client=None):
        self.publish({"event": "version", "comp_no": "module", "version": self.version},
                     client)

    def send_mcu_version(self, client=None):
        if self.mcu_name:
            self.mcu_reported = self.mcu_version
            return self.publish({"event": "setMcuVer", "comp_no": self.mcu_name,
                                 "version": self.mcu_version}, client)
        return None

    def send_action(self, plan, action, reason=""):
        msg = {"event": "otaAction", "plan_id": plan["plan_id"],
               "comp_no": plan["comp_no"], "action": action}
        if reason:
            msg["reason"] = reason
        self.publish(msg)

    def send_step(self, job_or_plan, step, percent=None):
        msg = {"event": "otaStep", "plan_id": job_or_plan["plan_id"],
               "comp_no": job_or_plan["comp_no"], "step": step}
        if percent is not None:
            msg["percent"] = percent
        return self.publish(msg)

    def send_result(self, kind, plan_id, comp_no, code, version, msg):
        return self.publish({"event": kind, "plan_id": plan_id, "comp_no": comp_no,
                             "result": code, "version": version, "msg": msg})

    def progress(self, job, step, pct, before_report=None):
        """A percent report: never backwards or repeated, and at most one per
        --progress rate:MS within a step.  The first report of a step always
        goes out: entering a step is an event (seed 002: every step update
        calls the callback), only the percents after it are rate-limited.
        `before_report` runs first (the breakpoint's sync)."""
        pct = max(0, min(100, int(pct)))
        last = job["pct"].get(step, -1)
        if pct <= last:
            return
        with self.rate_lock:
            now = time.monotonic()
            if (self.rate_ms is not None and step in job["pct"]
                    and (now - self.rate_at) * 1000.0 < self.rate_ms):
                return
            if before_report is not None:
                before_report()
            job["pct"][step] = pct
            self.send_step(job, step, pct)
            self.rate_at = time.monotonic()  # from the send: the sync took time too

    # ------------------------------------------------------------ messages down

    def handle(self, topic, payload):
        if topic != self.t_down:
            say("ota: ignored a message on unexpected topic %s", topic)
            return
        if len(payload) > MAX_MSG:
            say("ota: ignored a %d-byte message (limit %d)", len(payload), MAX_MSG)
            return
        try:
            m = json.loads(payload.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            say("ota: ignored a message that is not JSON (%s)", e)
            return
        if not isinstance(m, dict):
            say("ota: ignored a message that is not a JSON object")
            return
        ev = m.get("event")
        if ev == "otaPlan":
            self.on_plan(m)
        elif ev == "userConfirm":
            self.on_confirm(m)
        elif ev in ("fotaInfo", "sotaInfo"):
            self.on_info(ev, m)
        else:
            say("ota: ignored event %r", ev)

    @staticmethod
    def plan_key(pid):
        return json.dumps(pid, sort_keys=True)

    def parse_plan(self, m):
        """(plan, None) for a well-formed plan, else (None, why)."""
        pid = m.get("plan_id")
        if not ((isinstance(pid, str) and 0 < len(pid) <= 64) or is_int(pid)):
            return None, "plan_id missing or not a string/integer"
        if not isinstance(m.get("comp_no"), str) or not 0 < len(m["comp_no"]) <= 64:
            return None, "comp_no missing"
        if not is_version(m.get("target_version")):
            return None, "target_version missing"
        ct = m.get("comp_type")
        if ct is not None and ct not in (0, 1) or isinstance(ct, bool):
            return None, "comp_type %r is not 0 or 1" % (ct,)
        for k in ("min_battery", "min_signal", "disk_space"):
            if m.get(k) is not None and not is_num(m[k]):
                return None, "%s is not a number" % k
        for k in ("package", "mode", "source_version"):
            if m.get(k) is not None and not isinstance(m[k], str):
                return None, "%s is not a string" % k
        p = dict(m)
        if ct is None:
            p["comp_type"] = 1 if (self.mcu_name and m["comp_no"] == self.mcu_name) else 0
        p["package"] = m.get("package") or "full"
        p["mode"] = m.get("mode") or "silent"
        return p, None

    def decide(self, p):
        """None to accept the plan, else the reason to refuse it (seed 000's policy)."""
        if p["comp_type"] == 1:
            if not self.mcu_name:
                return "no MCU behind this module"
            if p["comp_no"] != self.mcu_name:
                return "unknown MCU component %s (this MCU is %s)" % (p["comp_no"],
                                                                     self.mcu_name)
            cur = self.mcu_version
        else:
            cur = self.version
        if p["package"] not in ("full", "diff"):
            return "unknown package type %r" % p["package"]
        if p["package"] == "diff":
            src = p.get("source_version")
            if not src:
                return "differential package without a source version"
            if src != cur:
                return ("differential package for source version %s, but %s runs %s"
                        % (src, p["comp_no"], cur))
        if p["target_version"] == cur:
            return "%s already runs %s" % (p["comp_no"], cur)
        with self.env_lock:
            env = dict(self.env)
        mb, ms, ds = p.get("min_battery"), p.get("min_signal"), p.get("disk_space")
        if mb is not None and env["battery"] < mb and "accept-low-battery" not in self.bug:
            return "battery %s%% below the plan's minimum %s%%" % (env["battery"], mb)
        if ms is not None and env["signal"] < ms:
            return "signal %s dBm below the plan's minimum %s dBm" % (env["signal"], ms)
        if ds is not None and env["disk"] < ds:
            return "free disk %s bytes below the %s bytes the plan needs" % (env["disk"], ds)
        return None

    def answer(self, p):
        why = self.decide(p)
        if why:
            say("ota: plan %s refused: %s", p["plan_id"], why)
            self.send_action(p, 0, why)
            return
        say("ota: plan %s accepted: %s %s -> %s", p["plan_id"], p["comp_no"],
            self.mcu_version if p["comp_type"] == 1 else self.version, p["target_version"])
        self.active = {"key": self.plan_key(p["plan_id"]), "plan": p,
                       "state": "await_info", "since": time.monotonic()}
        self.send_action(p, 1)
        self.send_step(p, "received")

    def on_plan(self, m):
        p, why = self.parse_plan(m)
        if p is None:
            say("ota: ignored a malformed otaPlan: %s", why)
            return
        key = self.plan_key(p["plan_id"])
        if self.active is not None:
            if self.active["key"] == key:
                if self.active["state"] == "await_info":
                    say("ota: plan %s pushed again while waiting for its file; "
                        "accepting again", p["plan_id"])
                    self.send_action(p, 1)
                else:
                    say("ota: plan %s pushed again while it runs; ignored", p["plan_id"])
                return
            why = "busy with plan %s" % self.active["plan"]["plan_id"]
            say("ota: plan %s refused: %s", p["plan_id"], why)
            self.send_action(p, 0, why)
            return
        say("ota: plan %s: %s %s package -> %s, %s, battery >= %s, signal >= %s, disk >= %s",
            p["plan_id"], p["comp_no"], p["package"], p["target_version"], p["mode"],
            p.get("min_battery"), p.get("min_signal"), p.get("disk_space"))
        if p["mode"] == "confirm":
            self.waiting[key] = p
            say("ota: plan %s waits for the user's confirmation", p["plan_id"])
            return
        if p["mode"] != "silent":
            why = "unknown upgrade mode %r" % p["mode"]
            say("ota: plan %s refused: %s", p["plan_id"], why)
            self.send_action(p, 0, why)
            return
        self.answer(p)

    def on_confirm(self, m):
        pid = m.get("plan_id")
        try:
            key = self.plan_key(pid)
        except (TypeError, ValueError):
            key = None
        p = self.waiting.pop(key, None) if key is not None else None
        if p is None:
            say("ota: ignored userConfirm for plan %r: no plan waits for it", pid)
            return
        c = m.get("confirm")
        if c not in (0, 1) or isinstance(c, bool):
            self.waiting[key] = p
            say("ota: ignored userConfirm with confirm=%r", c)
            return
        if c == 0:
            say("ota: plan %s declined by the user", p["plan_id"])
            self.send_action(p, 0, "the user declined the upgrade")
            return
        if self.active is not None:
            why = "busy with plan %s" % self.active["plan"]["plan_id"]
            self.send_action(p, 0, why)
            return
        say("ota: plan %s confirmed by the user", p["plan_id"])
        self.answer(p)

    def on_info(self, ev, m):
        pid = m.get("plan_id")
        act = self.active
        try:
            key = self.plan_key(pid)
        except (TypeError, ValueError):
            key = None
        if act is None or act["key"] != key:
            say("ota: ignored %s for plan %r: not an accepted plan", ev, pid)
            return
        if act["state"] != "await_info":
            say("ota: ignored %s for plan %r: already working on it", ev, pid)
            return
        p = act["plan"]
        want = "sotaInfo" if p["comp_type"] == 1 else "fotaInfo"
        if ev != want:
            say("ota: ignored %s for plan %r: the plan needs %s", ev, pid, want)
            return
        url, md5, size, ver = m.get("url"), m.get("md5"), m.get("size"), m.get("version")
        why = None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            why = "url missing or not http(s)"
        elif not is_hex(md5, 32):
            why = "md5 missing or not 32 hex digits"
        elif not is_int(size) or size <= 0:
            why = "size missing or not a positive integer"
        elif not is_version(ver):
            why = "version missing"
        elif ev == "sotaInfo" and not (is_int(m.get("crc32")) and 0 <= m["crc32"] <= 0xFFFFFFFF):
            why = "crc32 missing or not a 32-bit number"
        elif ev == "sotaInfo" and not is_hex(m.get("sha256"), 64):
            why = "sha256 missing or not 64 hex digits"
        if why:
            say("ota: ignored a malformed %s: %s", ev, why)
            return
        job = {"kind": ev, "plan_id": p["plan_id"], "comp_no": p["comp_no"],
               "comp": "mcu" if ev == "sotaInfo" else "module",
               "version": ver, "url": url, "md5": md5.lower(), "size": size,
               "crc32": m.get("crc32"), "sha256": (m.get("sha256") or "").lower(),
               "pct": {}}
        if ver != p["target_version"]:
            say("ota: note: %s version %s differs from the plan's target %s",
                ev, ver, p["target_version"])
        act["state"] = "running"
        say("ota: %s for plan %s: %s %d bytes md5 %s from %s", ev, p["plan_id"], ver,
            size, job["md5"], url)
        t = threading.Thread(target=self.job_main, args=(job,), name="ota-job", daemon=True)
        self.job_thread = t
        t.start()

    # ------------------------------------------------------------ the update (job thread)

    def job_main(self, job):
        reboot = False
        self.interrupted = None  # not reported by now: this job's record replaces it
        try:
            save_json(self.p_job, {"kind": "fotaResult" if job["comp"] == "module"
                                   else "sotaResult", "plan_id": job["plan_id"],
                                   "comp_no": job["comp_no"], "comp": job["comp"],
                                   "version": job["version"]})
            if job["comp"] == "module":
                reboot = self.fota(job)
            else:
                self.sota(job)
        except UpdateFail as f:
            self.fail(job, f)
        except Exception as e:  # a bug of ours must still end the plan
            say("ota: internal error: %r", e)
            self.fail(job, UpdateFail(RC_UPDATE, "internal error: %r" % e))
        finally:
            if not reboot:  # (a reboot's result is owed by boot.json now)
                try:
                    remove_quiet(self.p_job)
                except OSError:
                    pass
            self.events.put(("job_end", job["plan_id"], reboot))

    def fail(self, job, f):
        kind = "fotaResult" if job["comp"] == "module" else "sotaResult"
        cur = self.version if job["comp"] == "module" else self.mcu_version
        say("ota: plan %s failed: %d %s", job["plan_id"], f.code, f.msg)
        self.send_result(kind, job["plan_id"], job["comp_no"], f.code, cur, f.msg)

    def fota(self, job):
        if job["size"] > MAX_MODULE_IMAGE:
            raise UpdateFail(RC_UPDATE, "size %d exceeds the module's slot" % job["size"])
        self.download(job)
        self.verify(job)
        self.send_step(job, "updating")
        self.burn(job)
        return True

    def sota(self, job):
        if job["size"] > MAX_MCU_IMAGE:
            raise UpdateFail(RC_UPDATE, "size %d exceeds the MCU's flash" % job["size"])
        if self.link is None:
            raise UpdateFail(RC_TRANSFER, "no serial line to the MCU (--mcu-tty)")
        self.download(job)
        crc = self.verify(job)
        with open(self.p_part, "rb") as f:
            data = f.read()
        tries = 0
        while True:
            tries += 1
            try:
                old_boot = self.transfer(job, data, crc)
                break
            except LineRestart as e:
                if tries >= 3:
                    raise UpdateFail(RC_TRANSFER, str(e))
                say("sota: %s; transferring again", e)
        # the MCU installed the image and reboots: it tells its version when it is up
        self.mcu_after_install(job, old_boot)

    # ------------------------------------------------------------ download

    def resume_offset(self, job):
        remove_quiet(self.p_dl + ".tmp")
        bp = read_json(self.p_dl)
        if bp is not None and "no-resume" not in self.bug:
            same = (isinstance(bp, dict) and bp.get("md5") == job["md5"]
                    and bp.get("size") == job["size"]
                    and bp.get("version") == job["version"]
                    and bp.get("comp") == job["comp"])
            off = bp.get("offset") if isinstance(bp, dict) else None
            try:
                have = os.path.getsize(self.p_part)
            except OSError:
                have = -1
            if same and is_int(off) and 0 <= off <= job["size"] and have >= off:
                with open(self.p_part, "r+b") as f:
                    f.truncate(off)  # bytes past the breakpoint were never synced
                    os.fsync(f.fileno())
                say("ota: breakpoint of %s %s found: resuming at %d/%d", job["comp"],
                    job["version"], off, job["size"])
                return off
            say("ota: breakpoint of other firmware (%s %s md5 %s) dropped",
                bp.get("comp") if isinstance(bp, dict) else "?",
                bp.get("version") if isinstance(bp, dict) else "?",
                bp.get("md5") if isinstance(bp, dict) else "?")
        remove_quiet(self.p_dl)
        with open(self.p_part, "wb") as f:
            os.fsync(f.fileno())
        self.save_breakpoint(job, 0)
        return 0

    def save_breakpoint(self, job, off):
        save_json(self.p_dl, {"comp": job["comp"], "version": job["version"],
                              "md5": job["md5"], "size": job["size"], "offset": off})

    def drop_breakpoint(self):
        remove_quiet(self.p_dl)
        remove_quiet(self.p_part)
        fsync_dir(self.state)

    def persist(self, job, part, off):
        part.flush()
        os.fsync(part.fileno())
        self.save_breakpoint(job, off)

    def download(self, job):
        size = job["size"]
        off = self.resume_offset(job)
        fails = 0
        with open(self.p_part, "r+b") as part:
            self.progress(job, "downloading", off * 100 // size)
            while off < size:
                before = off
                try:
                    off = self.fetch_once(job, part, off)
                except Broken as e:
                    off = part.tell()
                    self.persist(job, part, off)
                    if self.a.retry == "wait":
                        raise UpdateFail(RC_DOWNLOAD, "download interrupted at %d/%d (%s); "
                                         "breakpoint kept for the next push" % (off, size, e))
                    fails = 0 if off > before else fails + 1
                    say("ota: download broken at %d/%d (%s); attempt %d without progress",
                        off, size, e, fails)
                    if fails >= SELF_RETRIES:
                        raise UpdateFail(RC_DOWNLOAD, "download failed %d times at %d/%d: %s"
                                         % (fails, off, size, e))
                    if "no-resume" in self.bug:
                        off = self.restart_part(job, part)
                    time.sleep(min(2.0, 0.25 * (fails + 1)))
                except UpdateFail as f:
                    if f.code == RC_MD5:
                        self.drop_breakpoint()  # the server's file is not this one
                    else:
                        self.persist(job, part, part.tell())
                    raise
            self.persist(job, part, off)
        say("ota: downloaded %d bytes", off)

    def restart_part(self, job, part):
        part.seek(0)
        part.truncate(0)
        part.flush()
        os.fsync(part.fileno())
        self.save_breakpoint(job, 0)
        return 0

    @staticmethod
    def content_range(cr):
        """'bytes 10-99/100' -> (10, 100); total None for '*'; (-1, None) if bad."""
        try:
            unit, rest = cr.strip().split(" ", 1)
            rng, total = rest.split("/", 1)
            if unit != "bytes":
                return -1, None
            return int(rng.split("-", 1)[0]), (None if total.strip() == "*" else int(total))
        except ValueError:
            return -1, None

    def fetch_once(self, job, part, off):
        """One GET from `off`; returns the offset reached (== size when complete).
        Raises Broken (resumable) or UpdateFail (final)."""
        size, tmo = job["size"], self.a.download_timeout
        u = urllib.parse.urlsplit(job["url"])
        try:
            port = u.port
        except ValueError:
            raise UpdateFail(RC_DOWNLOAD, "bad port in URL")
        kw = {}
        if u.scheme == "https":
            conn_cls = http.client.HTTPSConnection
            # the chain and the host name verified: against --ca, else the system's CAs
            kw["context"] = ssl.create_default_context(cafile=self.a.ca)
        else:
            conn_cls = http.client.HTTPConnection
        path = (u.path or "/") + ("?" + u.query if u.query else "")
        headers = {"User-Agent": "pyquec/1", "Connection": "close"}
        if off > 0:
            headers["Range"] = "bytes=%d-" % off
        say("ota: GET %s%s", job["url"], " from %d" % off if off else "")
        conn = conn_cls(u.hostname or "", port, timeout=tmo, **kw)
        try:
            try:
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
            except (socket.timeout, TimeoutError):
                raise UpdateFail(RC_DOWNLOAD, "no answer from the file server in %gs" % tmo)
            except (OSError, http.client.HTTPException) as e:
                raise Broken("connect: %s" % e)
            st = resp.status
            if st == 404:
                raise UpdateFail(RC_NOFILE, "file not found (HTTP 404)")
            if st in (403, 410):
                raise UpdateFail(RC_EXPIRED, "URL expired or refused (HTTP %d)" % st)
            if st == 416 and off > 0:
                self.restart_part(job, part)
                raise Broken("HTTP 416 for offset %d: starting over" % off)
            if 500 <= st <= 599:
                raise Broken("HTTP %d" % st)
            if st not in (200, 206):
                raise UpdateFail(RC_DOWNLOAD, "HTTP %d" % st)
            clen = resp.getheader("Content-Length")
            if st == 200:
                if off > 0:
                    say("ota: the server ignored Range: starting over at 0")
                    off = self.restart_part(job, part)
                if clen is not None and clen.strip().isdigit() and int(clen) != size:
                    raise UpdateFail(RC_MD5, "size mismatch: the server has %s bytes, the "
                                     "plan says %d" % (clen, size))
            else:
                start, total = self.content_range(resp.getheader("Content-Range") or "")
                if start != off:
                    raise Broken("Content-Range does not start at %d" % off)
                if total is not None and total != size:
                    raise UpdateFail(RC_MD5, "size mismatch: the server has %d bytes, the "
                                     "plan says %d" % (total, size))
            part.seek(off)
            synced_off, synced_at = off, time.monotonic()
            while off < size:
                try:
                    b = resp.read1(min(CHUNK, size - off + 1))
                except (socket.timeout, TimeoutError):
                    raise UpdateFail(RC_DOWNLOAD, "no data for %gs at %d/%d" % (tmo, off, size))
                except (OSError, http.client.HTTPException) as e:
                    raise Broken("read: %s" % e)
                if not b:
                    raise Broken("connection closed at %d/%d" % (off, size))
                if off + len(b) > size:
                    raise UpdateFail(RC_MD5, "size mismatch: more than %d bytes" % size)
                part.write(b)
                off += len(b)
                now = time.monotonic()
                if off - synced_off >= PERSIST_BYTES or now - synced_at >= PERSIST_SECS:
                    self.persist(job, part, off)
                    synced_off, synced_at = off, now
                o = off
                self.progress(job, "downloading", off * 100 // size,
                              before_report=lambda: self.persist(job, part, o))
            return off
        finally:
            conn.close()

    def verify(self, job):
        """Size and MD5 (-4); for SOTA also CRC-32 (-6) and SHA-256 (-7).
        Returns the CRC-32 the MCU must find."""
        try:
            n, md5, crc, sha = file_digests(self.p_part)
        except OSError as e:
            raise UpdateFail(RC_MD5, "downloaded file missing: %s" % e)
        bad = None
        if n != job["size"]:
            bad = UpdateFail(RC_MD5, "size mismatch: got %d bytes, want %d" % (n, job["size"]))
        elif md5 != job["md5"]:
            bad = UpdateFail(RC_MD5, "MD5 mismatch: got %s, want %s" % (md5, job["md5"]))
        elif job["comp"] == "mcu":
            if "skip-crc32" in self.bug:
                pass
            elif crc != job["crc32"]:
                bad = UpdateFail(RC_CRC32, "CRC32 mismatch: got %08x, want %08x"
                                 % (crc, job["crc32"]))
            if bad is None and sha != job["sha256"]:
                bad = UpdateFail(RC_SHA256, "SHA-256 mismatch: got %s, want %s"
                                 % (sha, job["sha256"]))
        if bad is not None:
            self.drop_breakpoint()  # these bytes must not be resumed from
            raise bad
        say("ota: verified size %d md5 %s%s", n, md5,
            " crc32 %08x sha256 %s" % (crc, sha) if job["comp"] == "mcu" else "")
        if job["comp"] == "mcu" and "skip-crc32" not in self.bug:
            return job["crc32"]
        return crc

    # ------------------------------------------------------------ FOTA burn

    def burn(self, job):
        meta, why = image_check(self.p_part)
        if meta is None:
            self.drop_breakpoint()
            raise UpdateFail(RC_UPDATE, "image rejected: %s" % why)
        if meta["version"] != job["version"]:
            self.drop_breakpoint()
            raise UpdateFail(RC_UPDATE, "image is version %s, the plan says %s"
                             % (meta["version"], job["version"]))
        slot = "b" if self.boot["active"] == "a" else "a"
        dst = self.slot_path(slot)
        say("ota: burning %s into slot %s", job["version"], slot)
        # The inactive slot is not referenced until the table switches: a power
        # cut while writing leaves the running firmware and the table as they were.
        size = job["size"]
        steps = max(1, min(40, size // 4096))
        per = -(-size // steps)
        pause = self.a.burn_ms / 1000.0 / steps
        with open(self.p_part, "rb") as src, open(dst, "wb") as out:
            while True:
                b = src.read(per)
                if not b:
                    break
                out.write(b)
                time.sleep(pause)
            out.flush()
            os.fsync(out.fileno())
        fsync_dir(self.state)
        crc = file_digests(dst)[2]
        if crc != file_digests(self.p_part)[2]:
            raise UpdateFail(RC_UPDATE, "slot %s read-back mismatch" % slot)
        early = "result-before-reboot" in self.bug
        self.boot["slots"][slot] = {"version": job["version"], "crc32": crc, "size": size}
        self.boot["pending"] = slot
        self.boot["owed"] = None if early else {
            "kind": "fotaResult", "plan_id": job["plan_id"], "comp_no": job["comp_no"],
            "target": job["version"]}
        self.save_boot()  # the switch: one atomic rewrite
        remove_quiet(self.p_job)
        self.drop_breakpoint()
        say("ota: slot %s pending with %s; rebooting", slot, job["version"])
        if early:
            self.send_step(job, "done")
            self.wait_published(self.send_result("fotaResult", job["plan_id"],
                                                 job["comp_no"], RC_OK, job["version"],
                                                 "upgraded to %s" % job["version"]))

    # ------------------------------------------------------------ SOTA transfer

    def transfer(self, job, data, crc):
        link, size = self.link, len(data)
        limit = self.a.mcu_timeout
        rto = 0.25
        begin = json.dumps({"size": size, "crc32": crc, "sha256": job["sha256"],
                            "version": job["version"]}).encode()
        with link.lock:
            sid = random.randint(1, 0xFFFF)
            say("sota: BEGIN session %04x, %d bytes, crc32 %08x", sid, size, crc)
            # the transfer stage starts with the handshake: a dead line fails in it
            self.progress(job, "transferring", 0)
            t0 = time.monotonic()
            while True:
                r = link.call(F_BEGIN, sid, 0, begin,
                              lambda f: f.sid == sid and f.type in (F_READY, F_NAK), rto)
                if r is not None and r.type == F_NAK:
                    raise UpdateFail(RC_TRANSFER, "the MCU refused the image: %s"
                                     % r.json().get("why", "?"))
                if r is not None:
                    break
                if time.monotonic() - t0 > limit:
                    raise UpdateFail(RC_TRANSFER, "no answer "
                                     "to BEGIN for %gs" % limit)
            off, chunk, run, misses, sent_max = 0, 512, 0, 0, 0
            last_ok = time.monotonic()
            while off < size:
                piece = data[off:off + chunk]
                o = off
                sent_max = max(sent_max, off + len(piece))
                r = link.call(F_DATA, sid, off, piece,
                              lambda f: f.sid == sid and ((f.type == F_ACK and f.seq > o)
                                                          or f.type == F_NAK), rto)
                if r is None:
                    misses += 1
                    run = 0
                    if misses >= 2 and chunk > 32:
                        chunk //= 2
                        misses = 0
                    if time.monotonic() - last_ok > limit:
                        raise UpdateFail(RC_TRANSFER, "no "
                                         "acknowledgement for %gs at %d/%d" % (limit, off, size))
                    continue
                if r.type == F_NAK:
                    raise LineRestart("the MCU lost the session (%s)" % r.json().get("why", "?"))
                if r.seq > sent_max:
                    continue  # more than was ever sent: nonsense, resend
                off = r.seq
                last_ok = time.monotonic()
                misses = 0
                run += 1
                if run >= 16 and chunk < 1024:
                    chunk *= 2
                    run = 0
                self.progress(job, "transferring", off * 100 // size)
            with link.info_cv:  # before END: the MCU reboots right after DONE
                old_boot = (link.info or {}).get("boot_id")
            t0 = time.monotonic()
            while True:
                r = link.call(F_END, sid, size, b"",
                              lambda f: f.sid == sid and f.type in (F_DONE, F_NAK), rto)
                if r is not None:
                    break
                if time.monotonic() - t0 > limit:
                    raise UpdateFail(RC_TRANSFER, "no answer "
                                     "to END for %gs" % limit)
        if r.type == F_NAK:
            raise LineRestart("the MCU lost the session at END (%s)" % r.json().get("why", "?"))
        d = r.json()
        if d.get("ok") is True:
            say("sota: the MCU verified and installed the image")
            return old_boot
        code, why = d.get("code"), d.get("why", "?")
        if code == "crc32":
            raise LineRestart("the MCU found the image corrupted (%s)" % why)
        raise UpdateFail(RC_UPDATE, "the MCU rejected the image: %s" % why)

    def mcu_after_install(self, job, old_boot):
        info = self.link.wait_boot(old_boot, self.a.boot_ms / 1000.0 + self.a.mcu_timeout + 3)
        if info is None:
            raise UpdateFail(RC_UPDATE, "the MCU did not come back after installing %s"
                             % job["version"])
        v = info.get("version")
        if v != job["version"]:
            raise UpdateFail(RC_UPDATE, "the MCU runs %s after installing %s (rolled back)"
                             % (v, job["version"]))
        self.mcu_version = v
        self.drop_breakpoint()
        say("sota: the MCU runs %s", v)
        self.send_step(job, "done")
        self.send_mcu_version()
        self.send_result("sotaResult", job["plan_id"], job["comp_no"], RC_OK, v,
                         "MCU upgraded to %s" % v)

    # ------------------------------------------------------------ main loop

    def on_connected(self, client):
        self.send_version(client)
        self.send_mcu_version(client)
        owed = self.boot.get("owed")
        if owed and "code" in owed:
            if owed["code"] == RC_OK:
                self.publish({"event": "otaStep", "plan_id": owed["plan_id"],
                              "comp_no": owed["comp_no"], "step": "done"}, client)
            info = self.send_result("fotaResult", owed["plan_id"], owed["comp_no"],
                                    owed["code"], self.version, owed["msg"])
            if self.wait_published(info):
                self.boot["owed"] = None
                self.save_boot()
        job = self.interrupted
        if job is not None:
            cur = self.mcu_version if job.get("comp") == "mcu" else self.version
            if job.get("comp") == "mcu" and cur == job.get("version"):
                # the MCU had installed it when the power went: it did upgrade
                self.send_step({"plan_id": job["plan_id"], "comp_no": job.get("comp_no")},
                               "done")
                code, msg = RC_OK, "MCU upgraded to %s (seen after a restart)" % cur
            else:
                code, msg = RC_UPDATE, ("interrupted: the device restarted during the "
                                        "update to %s" % job.get("version"))
            info = self.send_result(job["kind"], job["plan_id"], job.get("comp_no"),
                                    code, cur, msg)
            if self.wait_published(info):
                self.interrupted = None
                remove_quiet(self.p_job)
        if self.a.request == "on-connect" and self.active is None:
            self.publish({"event": "otaRequest"}, client)

    def tick(self):
        act = self.active
        if (act is not None and act["state"] == "await_info"
                and time.monotonic() - act["since"] > INFO_WAIT_SECS):
            say("ota: no file info for plan %s in %ds; forgotten", act["plan"]["plan_id"],
                INFO_WAIT_SECS)
            self.active = None
        self.mcu_supervise()

    def session(self):
        """From boot to reboot: returns when a burnt image wants a reboot."""
        while True:
            try:
                ev = self.events.get(timeout=0.2)
            except queue.Empty:
                self.tick()
                continue
            self.tick()
            kind = ev[0]
            if kind == "connected":
                if ev[1] is self.client:
                    self.on_connected(ev[1])
            elif kind == "msg":
                self.handle(ev[1], ev[2])
            elif kind == "mcu_info":
                busy_mcu = (self.active is not None and self.active["plan"]["comp_type"] == 1)
                if (self.connected.is_set() and not busy_mcu
                        and self.mcu_version != self.mcu_reported):
                    self.send_mcu_version()
            elif kind == "job_end":
                self.active = None
                self.job_thread = None
                if ev[2]:
                    return

    def run(self):
        say("power on: %s/%s, state %s", self.a.product, self.a.device, self.state)
        os.makedirs(self.state, exist_ok=True)
        self.load_env()
        if self.mcu_name:
            self.mcu_load_known()
            self.mcu_spawn()
            if self.a.mcu_tty:
                self.link = McuLink(self.a.mcu_tty, self.on_mcu_info)
                self.link.start()
        while True:
            self.do_boot()
            if self.link is not None:
                info = self.link.hello(2.0)
                if info is None:
                    say("mcu: no answer from the MCU; assuming %s", self.mcu_version)
                else:
                    say("mcu: %s runs %s", info.get("name"), info.get("version"))
            self.active, self.waiting = None, {}
            while True:  # events of the previous boot mean nothing now
                try:
                    self.events.get_nowait()
                except queue.Empty:
                    break
            self.mqtt_start()
            try:
                self.session()
            finally:
                self.mqtt_stop()
            say("reboot")


def cmd_run(a):
    global _tag
    _tag = "pyquec"
    if mqtt is None:
        print("quecthing_device: paho-mqtt is not importable by %s; use /usr/bin/python3 "
              "(Debian python3-paho-mqtt)" % sys.executable, file=sys.stderr)
        return 2
    dev = Module(a)

    def on_term(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    try:
        dev.run()
    except KeyboardInterrupt:
        pass
    except SystemExit:
        say("power off")
        raise
    finally:
        dev.mcu_stop()
    return 0


# ---------------------------------------------------------------- the MCU process

def arm_parent_death(parent):
    """Dies (SIGKILL) with the module: one power supply for both."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if parent and os.getppid() != parent:
        os._exit(0)  # the module died before we could arm


class Mcu:
    def __init__(self, a):
        self.a = a
        self.state = os.path.abspath(a.state)
        self.p_boot = os.path.join(self.state, "boot.json")
        self.fd = None
        self.deframer = Deframer()
        self.sess = None        # {"sid","size","crc32","sha256","version","buf"}
        self.done_sid = None
        self.boot = None
        self.version = None
        self.crc = 0
        self.boot_id = 0

    def slot_path(self, slot):
        return os.path.join(self.state, "slot_%s.img" % slot)

    def save_boot(self):
        save_json(self.p_boot, self.boot)

    def slot_check(self, slot):
        rec = (self.boot.get("slots") or {}).get(slot)
        if not rec:
            return None, None, "slot %s empty" % slot
        meta, why = image_check(self.slot_path(slot))
        if meta is None:
            return None, None, why
        crc = file_digests(self.slot_path(slot))[2]
        if crc != rec.get("crc32"):
            return None, None, "slot %s differs from its record" % slot
        return meta, crc, None

    def do_boot(self):
        os.makedirs(self.state, exist_ok=True)
        remove_quiet(self.p_boot + ".tmp")
        self.boot = read_json(self.p_boot)
        ok = False
        try:
            ok = (self.boot["active"] in ("a", "b") and self.boot["pending"] in (None, "a", "b")
                  and isinstance(self.boot["slots"], dict))
        except (KeyError, TypeError):
            ok = False
        if not ok:
            img = image_bytes(self.a.version, MCU_FACTORY_SIZE)
            write_atomic(self.slot_path("a"), img)
            self.boot = {"active": "a", "pending": None,
                         "slots": {"a": {"version": self.a.version,
                                         "crc32": zlib.crc32(img) & 0xFFFFFFFF}, "b": None}}
            self.save_boot()
            say("flash: factory image %s in slot a", self.a.version)
        time.sleep(self.a.boot_ms / 1000.0)
        pend = self.boot["pending"]
        if pend:
            meta, crc, why = self.slot_check(pend)
            if meta is not None and not meta["boots"]:
                meta, why = None, "the image does not start"
            if meta is not None:
                self.boot["active"] = pend
            else:
                say("image in slot %s did not start (%s); rolled back", pend, why)
            self.boot["pending"] = None
            self.save_boot()
        meta, crc, why = self.slot_check(self.boot["active"])
        if meta is None:
            # nothing we wrote is broken; this is flash rot: run on the record
            rec = self.boot["slots"][self.boot["active"]] or {}
            self.version, self.crc = rec.get("version", "?"), rec.get("crc32", 0) or 0
            say("WARNING: active slot does not verify: %s", why)
        else:
            self.version, self.crc = meta["version"], crc
        self.boot_id = random.randint(1, 0x7FFFFFFF)
        say("boot version=%s crc32=%08x", self.version, self.crc)

    def send(self, ftype, sid, seq, payload=b""):
        if self.fd is not None:
            write_all(self.fd, frame_encode(ftype, sid, seq, payload), timeout=0.5)

    def send_json(self, ftype, sid, seq, obj):
        self.send(ftype, sid, seq, json.dumps(obj, separators=(",", ":")).encode())

    def send_info(self):
        self.send_json(F_INFO, 0, 0, {"name": self.a.name, "version": self.version,
                                      "crc32": self.crc, "boot_id": self.boot_id})

    def handle(self, f):
        if f.type == F_HELLO:
            self.send_info()
        elif f.type == F_BEGIN:
            if self.sess is not None and self.sess["sid"] == f.sid:
                self.send_json(F_READY, f.sid, 0, {"next": len(self.sess["buf"])})
                return
            d = f.json()
            size, crc = d.get("size"), d.get("crc32")
            if not (is_int(size) and 0 < size <= MAX_MCU_IMAGE and is_int(crc)):
                self.send_json(F_NAK, f.sid, 0, {"why": "bad BEGIN"})
                return
            self.sess = {"sid": f.sid, "size": size, "crc32": crc,
                         "sha256": d.get("sha256") if is_hex(d.get("sha256"), 64) else None,
                         "version": d.get("version"), "buf": bytearray()}
            say("receiving %d bytes (session %04x)", size, f.sid)
            self.send_json(F_READY, f.sid, 0, {"next": 0})
        elif f.type == F_DATA:
            s = self.sess
            if s is None or s["sid"] != f.sid:
                self.send_json(F_NAK, f.sid, f.seq, {"why": "no session"})
                return
            nxt = len(s["buf"])
            if f.seq == nxt and nxt + len(f.payload) <= s["size"]:
                s["buf"] += f.payload
            self.send(F_ACK, f.sid, len(s["buf"]))
        elif f.type == F_END:
            if f.sid == self.done_sid:
                self.send_json(F_DONE, f.sid, 0, {"ok": True})
                return
            s = self.sess
            if s is None or s["sid"] != f.sid:
                self.send_json(F_NAK, f.sid, 0, {"why": "no session"})
                return
            self.finish(s)

    def finish(self, s):
        buf = bytes(s["buf"])
        self.sess = None
        if len(buf) != s["size"]:
            self.send_json(F_DONE, s["sid"], 0, {"ok": False, "code": "short",
                                                 "why": "got %d of %d bytes" % (len(buf), s["size"])})
            return
        crc = zlib.crc32(buf) & 0xFFFFFFFF
        if crc != s["crc32"]:
            say("received image CRC-32 %08x, want %08x: discarded", crc, s["crc32"])
            self.send_json(F_DONE, s["sid"], 0, {"ok": False, "code": "crc32",
                                                 "why": "crc32 %08x, want %08x" % (crc, s["crc32"])})
            return
        if s["sha256"] and hashlib.sha256(buf).hexdigest() != s["sha256"].lower():
            self.send_json(F_DONE, s["sid"], 0, {"ok": False, "code": "crc32",
                                                 "why": "sha256 mismatch"})
            return
        slot = "b" if self.boot["active"] == "a" else "a"
        path = self.slot_path(slot)
        write_atomic(path, buf)
        meta, why = image_check(path)
        if meta is None or (s["version"] and meta["version"] != s["version"]):
            remove_quiet(path)
            why = why or "image is version %s, not %s" % (meta["version"], s["version"])
            say("received image rejected: %s", why)
            self.send_json(F_DONE, s["sid"], 0, {"ok": False, "code": "image", "why": why})
            return
        self.boot["slots"][slot] = {"version": meta["version"], "crc32": crc}
        self.boot["pending"] = slot
        self.save_boot()
        self.done_sid = s["sid"]
        say("image %s installed in slot %s; restarting", meta["version"], slot)
        self.send_json(F_DONE, s["sid"], 0, {"ok": True})
        self.do_boot()
        self.send_info()

    def run(self):
        arm_parent_death(self.a.parent)
        self.do_boot()
        while self.fd is None:
            try:
                self.fd = open_line(self.a.tty)
            except OSError as e:
                say("cannot open %s: %s; retrying", self.a.tty, e)
                time.sleep(0.5)
                self.check_parent()
        self.send_info()
        while True:
            self.check_parent()
            try:
                r, _, _ = select.select([self.fd], [], [], 0.3)
                if not r:
                    continue
                data = os.read(self.fd, 4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as e:
                say("line read error %s; reopening", e)
                try:
                    os.close(self.fd)
                except OSError:
                    pass
                self.fd = None
                while self.fd is None:
                    time.sleep(0.3)
                    self.check_parent()
                    try:
                        self.fd = open_line(self.a.tty)
                    except OSError:
                        pass
                continue
            if not data:
                time.sleep(0.05)
                continue
            bad = self.deframer.bad
            for f in self.deframer.feed(data):
                try:
                    self.handle(f)
                except OSError as e:
                    say("flash error: %s", e)
            if self.deframer.bad != bad:
                self.send(F_REJ, 0, 0)

    def check_parent(self):
        if self.a.parent and os.getppid() != self.a.parent:
            os._exit(0)


def cmd_mcu(a):
    global _tag
    _tag = "pymcu"
    signal.signal(signal.SIGTERM, lambda s, f: os._exit(0))
    try:
        Mcu(a).run()
    except KeyboardInterrupt:
        pass
    return 0


# ---------------------------------------------------------------- CLI

def main(argv=None):
    p = argparse.ArgumentParser(prog="quecthing_device.py",
                                description="An independent Quectel QuecThing device.")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="be the module (starts its MCU)")
    r.add_argument("--host", required=True)
    r.add_argument("--port", required=True, type=int)
    r.add_argument("--ca", help="TLS: MQTT over TLS and https downloads, verified against this CA (PEM)")
    r.add_argument("--product", required=True)
    r.add_argument("--device", required=True)
    r.add_argument("--state", required=True, help="flash directory")
    r.add_argument("--version", default="1.0.0", help="factory module version")
    r.add_argument("--mcu", help="the MCU's component name (e.g. STM32)")
    r.add_argument("--mcu-version", default="1.0.0", help="the MCU's factory version")
    r.add_argument("--mcu-tty", help="the module's end of the MCU line")
    r.add_argument("--mcu-peer-tty", help="the MCU's end: the module starts the MCU on it")
    r.add_argument("--mcu-timeout", type=float, default=3.0,
                   help="seconds without an answer from the MCU before -8")
    r.add_argument("--boot-ms", type=int, default=100)
    r.add_argument("--burn-ms", type=int, default=300)
    r.add_argument("--download-timeout", type=float, default=5.0)
    r.add_argument("--request", choices=("on-connect", "never"), default="on-connect")
    r.add_argument("--retry", choices=("self", "wait"), default="self")
    r.add_argument("--progress", default="every", help="every | rate:MS")
    r.add_argument("--battery", type=float, default=100, help="initial battery %%")
    r.add_argument("--signal", type=float, default=-60, help="initial signal dBm")
    r.add_argument("--disk", type=int, default=32 * 1024 * 1024, help="initial free bytes")
    r.add_argument("--bug", action="append", choices=BUGS, help="a field defect")
    m = sub.add_parser("mcu", help="be the MCU (started by the module)")
    m.add_argument("--tty", required=True)
    m.add_argument("--state", required=True)
    m.add_argument("--name", default="MCU")
    m.add_argument("--version", default="1.0.0")
    m.add_argument("--boot-ms", type=int, default=100)
    m.add_argument("--parent", type=int, default=0)
    k = sub.add_parser("mkimage", help="write a firmware image")
    k.add_argument("--version", required=True)
    k.add_argument("--size", required=True, type=int)
    k.add_argument("--fail-boot", action="store_true", help="burns, never boots")
    k.add_argument("-o", dest="output", required=True)
    a = p.parse_args(argv)
    if a.cmd == "run":
        if a.boot_ms < 0 or a.burn_ms < 0 or a.download_timeout <= 0 or a.mcu_timeout <= 0:
            p.error("--boot-ms/--burn-ms must be >= 0, --download-timeout/--mcu-timeout > 0")
        if not 0 < a.port < 65536:
            p.error("--port out of range")
        if a.progress != "every":
            ms = a.progress[5:] if a.progress.startswith("rate:") else ""
            if not ms.isdigit() or int(ms) <= 0:
                p.error("--progress must be 'every' or 'rate:MS' with MS > 0")
        if a.mcu and not is_version(a.mcu_version):
            p.error("--mcu-version must be a version")
        return cmd_run(a)
    if a.cmd == "mcu":
        return cmd_mcu(a)
    if not is_version(a.version) or a.size <= 0:
        p.error("mkimage needs a version and a positive --size")
    return cmd_mkimage(a)


if __name__ == "__main__":
    sys.exit(main())
