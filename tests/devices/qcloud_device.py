#!/usr/bin/python3
"""qcloud_device: an independent Tencent Cloud IoT OTA device, in Python.

It exists to prove that the qcloud suite tests the *dialect*, not our C
emulator: it shares no code and no image format with otadev.  It follows the
Tencent seed (/work/shared/seeds/001_*.txt): topics $ota/report/PK/DN (up) and
$ota/update/PK/DN (down), report_version, update_firmware, report_progress with
downloading / burning / done / fail, result codes -1 .. -5, breakpoint resume.

Commands
  run      be a device until SIGTERM (graceful) or SIGKILL (power cut)
  mkimage  write a firmware image in this device's format

Behaviour switches (run).  Real device SDKs differ here and the seed allows
both, so the suites must pass in every setting:
  --retry self     a broken download (connection closed or reset, refused,
                   an HTTP 5xx) is retried at once with "Range: bytes=N-" from
                   the breakpoint, up to --retries attempts without progress;
                   then fail -1.  A stall (no byte for --download-timeout) is
                   fail -1 at once.  (The default.)
  --retry wait     as Tencent's SDK sample (ota_mqtt_sample.c, process_ota):
                   no retry of its own.  A broken or stalled download is
                   reported "fail" -1 "time_out" (seed 001's download timeout;
                   the SDK's IOT_OTA_FetchYield sends -1 for a cut connection
                   and for a silent link, though a stall inside one of its
                   reads gives only the -5 below), then report_version
                   again; the breakpoint stays on flash and the
                   download resumes with Range only when the cloud sends
                   update_firmware again for the same firmware (same md5,
                   size, version: seed 001, 断点续传).  The SDK sample then also
                   sends a second fail with -5; this device does not (-5 is
                   "firmware update failed" in the seed).
  --progress every   a "downloading" report for every chunk read (8 KiB)
                   that moves the percent; the last one is 100 (the default).
  --progress rate:MS at most one "downloading" report per MS ms, the first
                   chunk's at once (the SDK reports once a second:
                   IOT_OTA_FetchYield's report_timer); no 100 % report is
                   promised before "burning".
Percents are always of the whole file, also after a resume.

Defects on purpose (run --bug NAME, repeatable), to show a suite catches them:
  resume-percent-of-remainder  after a Range resume the percent counts the
                   remaining bytes only: 10 % reported while 50 % is held
                   (and, within one push, progress that goes backwards).
  repush-restarts  a new update_firmware for the firmware of the breakpoint
                   ignores the breakpoint and downloads from 0 without Range
                   (in-process retries of --retry self still resume).

Flash (the --state directory, survives power cuts; every metadata write is
temp file + fsync + rename + directory fsync, so a SIGKILL at any instant
leaves either the old or the new record):
  boot.json   A/B table: active slot, pending slot, per-slot version/sha256,
              and a report owed to the cloud after a rollback
  slot_a.img  slot_b.img   burnt images (the factory slot has none)
  dl.json     breakpoint: url, md5, size, version, offset (bytes on disk)
  dl.part     the partial download; only the first `offset` bytes count

Image format ("QCIMG1"), exactly --size bytes:
  b"QCIMG1 " + JSON {"version","boot_ok","burn_ok","payload_len"} + b"\\n"
  payload_len pseudo-random bytes (seeded by version and size)
  32-byte SHA-256 of everything before it
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import queue
import random
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request

try:
    import paho.mqtt.client as mqtt
except ImportError:  # mkimage works without paho; run reports it clearly
    mqtt = None

IMG_MAGIC = b"QCIMG1 "
IMG_HEADER_MAX = 1024
IMG_TRAILER_LEN = 32
MAX_IMAGE = 64 * 1024 * 1024     # slot capacity: larger updates fail with -5
MAX_MSG = 16 * 1024              # larger messages on the update topic are garbage
CHUNK = 8 * 1024
PERSIST_BYTES = 64 * 1024        # breakpoint record at least this often...
PERSIST_SECS = 0.2               # ...or this often, whichever comes first

RC_TIMEOUT, RC_NOFILE, RC_SIGN, RC_MD5, RC_UPDATE = -1, -2, -3, -4, -5

_console_lock = threading.Lock()


def say(fmt, *args):
    """One console line, flushed at once: the harness reads a pty line by line."""
    line = fmt % args if args else fmt
    with _console_lock:
        sys.stdout.write("qcdev: " + line + "\n")
        sys.stdout.flush()


# ---------------------------------------------------------------- flash helpers

def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path, data):
    """Replace `path` with `data` so that a power cut leaves old or new, never half."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(os.path.dirname(path) or ".")


def read_json(path):
    """Returns the parsed object, or None if the file is missing or unreadable."""
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


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 16)
            if not b:
                return h.hexdigest()
            h.update(b)


# ---------------------------------------------------------------- image format

def image_bytes(version, size, boot_ok=True, burn_ok=True):
    """Builds an image of exactly `size` bytes; raises ValueError if impossible."""
    # The header holds payload_len, whose digit count changes the header length:
    # iterate until it is stable (two rounds at most in practice).
    payload_len = 0
    for _ in range(4):
        meta = {"version": version, "boot_ok": boot_ok, "burn_ok": burn_ok,
                "payload_len": payload_len}
        header = IMG_MAGIC + json.dumps(meta, sort_keys=True).encode() + b"\n"
        want = size - len(header) - IMG_TRAILER_LEN
        if want < 0:
            raise ValueError("size %d too small for a header of %d bytes"
                             % (size, len(header)))
        if want == payload_len:
            break
        payload_len = want
    else:
        raise ValueError("no stable header for size %d" % size)
    if len(header) > IMG_HEADER_MAX:
        raise ValueError("header longer than %d bytes" % IMG_HEADER_MAX)
    payload = random.Random("%s:%d" % (version, size)).randbytes(payload_len)
    body = header + payload
    return body + hashlib.sha256(body).digest()


def image_check(path):
    """Reads the image at `path`; returns (meta dict, None) or (None, why)."""
    try:
        total = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(IMG_HEADER_MAX)
            nl = head.find(b"\n")
            if not head.startswith(IMG_MAGIC) or nl < 0:
                return None, "no QCIMG1 header line"
            try:
                meta = json.loads(head[len(IMG_MAGIC):nl].decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as e:
                return None, "header JSON: %s" % e
            if (not isinstance(meta, dict)
                    or not isinstance(meta.get("version"), str)
                    or not isinstance(meta.get("boot_ok"), bool)
                    or not isinstance(meta.get("burn_ok"), bool)
                    or not isinstance(meta.get("payload_len"), int)):
                return None, "header fields missing or of the wrong type"
            hlen = nl + 1
            if total != hlen + meta["payload_len"] + IMG_TRAILER_LEN:
                return None, "length %d, header says %d" % (
                    total, hlen + meta["payload_len"] + IMG_TRAILER_LEN)
            f.seek(0)
            h = hashlib.sha256()
            left = total - IMG_TRAILER_LEN
            while left > 0:
                b = f.read(min(left, 1 << 16))
                if not b:
                    return None, "short read"
                h.update(b)
                left -= len(b)
            if f.read(IMG_TRAILER_LEN) != h.digest():
                return None, "SHA-256 trailer mismatch"
            return meta, None
    except OSError as e:
        return None, "cannot read: %s" % e


def cmd_mkimage(args):
    try:
        data = image_bytes(args.version, args.size, boot_ok=not args.fail_boot,
                           burn_ok=not args.fail_burn)
        write_atomic(os.path.abspath(args.output), data)
    except (ValueError, OSError) as e:
        print("mkimage: %s: %s" % (args.output, e), file=sys.stderr)
        return 1
    print("mkimage: %s version %s size %d md5 %s" % (
        args.output, args.version, len(data), hashlib.md5(data).hexdigest()))
    return 0


# ---------------------------------------------------------------- update errors

class UpdateFail(Exception):
    """A failed update: result code and message for the fail report."""

    def __init__(self, code, msg):
        super().__init__(msg)
        self.code = code
        self.msg = msg


class Broken(Exception):
    """The download connection broke; retry with Range from the current offset."""


class Restart(Broken):
    """The server refused our offset (416): the part file is reset, go again from 0."""


# ---------------------------------------------------------------- the device

class Device:
    def __init__(self, args):
        self.a = args
        self.state = os.path.abspath(args.state)
        self.boot_path = os.path.join(self.state, "boot.json")
        self.dl_path = os.path.join(self.state, "dl.json")
        self.part_path = os.path.join(self.state, "dl.part")
        self.topic_up = "$ota/report/%s/%s" % (args.product, args.device)
        self.topic_down = "$ota/update/%s/%s" % (args.product, args.device)
        self.jobs = queue.Queue()
        self.lock = threading.Lock()
        self.busy = None          # the update being worked on, or None
        self.connected = threading.Event()
        self.client = None
        self.last_pct = -1        # the last download percent reported (this push)
        self.last_report_at = None  # monotonic time of that report (--progress rate)
        self.req_start = 0        # the offset the current HTTP request started at
        self.boot = None          # the A/B table, as on flash
        self.version = None       # the version this device runs now
        # No proxy from the environment: the device talks to the URL it is given;
        # with --ca, https:// URLs are verified against that CA (name included).
        handlers = [urllib.request.ProxyHandler({})]
        if self.a.ca:
            handlers.append(urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=self.a.ca)))
        self.opener = urllib.request.build_opener(*handlers)

    # ------------------------------------------------------------ boot

    def slot_path(self, slot):
        return os.path.join(self.state, "slot_%s.img" % slot)

    def save_boot(self):
        write_atomic(self.boot_path,
                     json.dumps(self.boot, sort_keys=True).encode() + b"\n")

    def slot_ok(self, slot):
        """Verifies a burnt slot against its record; returns (meta, None) or (None, why)."""
        rec = self.boot["slots"].get(slot)
        if not rec:
            return None, "slot %s is empty" % slot
        if rec.get("factory"):
            return {"version": rec["version"], "boot_ok": True}, None
        meta, why = image_check(self.slot_path(slot))
        if meta is None:
            return None, why
        if sha256_file(self.slot_path(slot)) != rec.get("sha256"):
            return None, "slot %s content differs from its record" % slot
        return meta, None

    def do_boot(self):
        """The bootloader: try a pending slot once, roll back if it cannot boot."""
        os.makedirs(self.state, exist_ok=True)
        remove_quiet(self.boot_path + ".tmp")
        self.boot = read_json(self.boot_path)
        if not self.is_boot_table(self.boot):
            # An empty flash is a factory device running --version from slot a.
            self.boot = {"active": "a", "pending": None, "owed": None,
                         "slots": {"a": {"version": self.a.version, "factory": True},
                                   "b": None}}
            self.save_boot()
            say("flash: factory state, version %s in slot a", self.a.version)
        say("boot: active slot %s, pending %s", self.boot["active"],
            self.boot["pending"] or "none")
        # Booting takes time; a power cut here leaves the pending slot pending,
        # so the next power-on tries it again.
        time.sleep(self.a.boot_ms / 1000.0)
        pend = self.boot["pending"]
        if pend:
            meta, why = self.slot_ok(pend)
            if meta is not None and not meta.get("boot_ok"):
                why = "image marks itself as failing to boot"
            if meta is not None and why is None:
                self.boot["active"] = pend
                self.boot["pending"] = None
                self.save_boot()
                say("boot: slot %s version %s booted, confirmed", pend,
                    self.boot["slots"][pend]["version"])
            else:
                failed = (self.boot["slots"].get(pend) or {}).get("version", "?")
                self.boot["pending"] = None
                self.boot["owed"] = {"version": failed, "code": RC_UPDATE,
                                     "msg": "boot failed, rolled back: %s" % why}
                self.save_boot()
                say("boot: slot %s version %s failed to boot (%s); rolled back to "
                    "slot %s", pend, failed, why, self.boot["active"])
        act = self.boot["active"]
        meta, why = self.slot_ok(act)
        if meta is None:
            # Nothing writes the active slot, so this is flash rot; say so and run.
            say("boot: WARNING active slot %s does not verify: %s", act, why)
        self.version = self.boot["slots"][act]["version"]
        say("boot: running version %s from slot %s", self.version, act)

    @staticmethod
    def is_boot_table(b):
        try:
            return (b["active"] in ("a", "b") and b["pending"] in (None, "a", "b")
                    and isinstance(b["slots"][b["active"]]["version"], str)
                    and "owed" in b)
        except (KeyError, TypeError):
            return False

    # ------------------------------------------------------------ MQTT

    def login(self):
        """Tencent's key authentication (the vendor's 'MQTT 连接参数生成'): client
        id productID+deviceName, user name 'productID deviceName;sdkappid;
        connid;expiry', password hex HMAC-SHA256 of the user name with the
        base64-decoded device secret, then ';hmacsha256'. Without --secret:
        an unsigned login and the client id product.device."""
        if not self.a.secret:
            return "%s.%s" % (self.a.product, self.a.device), None, None
        cid = self.a.product + self.a.device
        connid = "".join(random.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(5))
        user = "%s;21010406;%s;%d" % (cid, connid, int(time.time()) + 3600)
        key = base64.b64decode(self.a.secret)
        sign = hmac.new(key, user.encode(), hashlib.sha256).hexdigest()
        return cid, user, sign + ";hmacsha256"

    def mqtt_start(self):
        cid, user, password = self.login()
        c = mqtt.Client(client_id=cid, clean_session=True, protocol=mqtt.MQTTv311)
        if user:
            c.username_pw_set(user, password)
        c.on_connect = self.on_connect
        c.on_disconnect = self.on_disconnect
        c.on_message = self.on_message
        c.on_connect_fail = self.on_connect_fail
        self.connect_failing = False
        c.reconnect_delay_set(min_delay=0.5, max_delay=2)
        if self.a.ca:  # MQTT over TLS, the broker's certificate verified against the CA
            c.tls_set(ca_certs=self.a.ca)
        self.connected.clear()
        c.connect_async(self.a.host, self.a.port, keepalive=30)
        c.loop_start()
        self.client = c
        say("mqtt: connecting to %s:%d as %s.%s", self.a.host, self.a.port,
            self.a.product, self.a.device)

    def mqtt_stop(self):
        c, self.client = self.client, None
        if c is not None:
            c.disconnect()
            c.loop_stop()
        self.connected.clear()

    def on_connect(self, client, userdata, flags, rc):
        try:
            if rc != 0:
                say("mqtt: connect refused rc=%d (%s)", rc, mqtt.connack_string(rc))
                return
            self.connect_failing = False
            say("mqtt: connected")
            client.subscribe(self.topic_down, qos=1)
            self.report_version(client)
            self.connected.set()
        except Exception as e:  # an exception would kill paho's thread
            say("mqtt: on_connect error: %r", e)

    def on_connect_fail(self, client, userdata):
        # paho retries every 0.5..2 s; one line per outage is enough.
        if not self.connect_failing:
            self.connect_failing = True
            say("mqtt: cannot reach %s:%d, retrying", self.a.host, self.a.port)

    def on_disconnect(self, client, userdata, rc):
        self.connected.clear()
        if rc != 0:
            say("mqtt: connection lost (rc=%d), reconnecting", rc)

    def publish(self, obj, client=None):
        c = client or self.client
        if c is None:
            return None
        data = json.dumps(obj, separators=(",", ":"))
        say("mqtt: > %s", data)
        # QoS 1: paho keeps it and resends after a reconnect.
        return c.publish(self.topic_up, data, qos=1)

    def report_version(self, client=None):
        return self.publish({"type": "report_version",
                             "report": {"version": self.version}}, client)

    def report_progress(self, state, version, percent=None, code=0, msg=""):
        prog = {"state": state}
        if percent is not None:
            prog["percent"] = str(percent)
        prog["result_code"] = str(code)
        prog["result_msg"] = msg
        return self.publish({"type": "report_progress",
                             "report": {"progress": prog, "version": version}})

    def on_message(self, client, userdata, msg):
        try:
            self.handle_message(msg)
        except Exception as e:
            say("ota: message on %s not handled: %r", msg.topic, e)

    def handle_message(self, msg):
        if msg.topic != self.topic_down:
            say("ota: ignored message on unexpected topic %s", msg.topic)
            return
        if len(msg.payload) > MAX_MSG:
            say("ota: ignored %d-byte message on %s (limit %d)", len(msg.payload),
                msg.topic, MAX_MSG)
            return
        try:
            m = json.loads(msg.payload.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            say("ota: ignored message on %s: not JSON (%s)", msg.topic, e)
            return
        job, why = self.parse_update(m)
        if job is None:
            say("ota: ignored message on %s: %s", msg.topic, why)
            return
        with self.lock:
            if self.busy is not None:
                same = all(self.busy[k] == job[k] for k in ("md5", "size", "version"))
                say("ota: ignored update to %s: busy with %s%s", job["version"],
                    self.busy["version"], " (the same firmware)" if same else "")
                return
            self.busy = job
        say("ota: update to %s, %d bytes, md5 %s, url %s", job["version"],
            job["size"], job["md5"], job["url"])
        self.jobs.put(job)

    @staticmethod
    def parse_update(m):
        """Checks an update_firmware message; returns (job, None) or (None, why)."""
        if not isinstance(m, dict):
            return None, "not a JSON object"
        if m.get("type") != "update_firmware":
            return None, "type %r is not update_firmware" % (m.get("type"),)
        size, md5 = m.get("file_size"), m.get("md5sum")
        url, version = m.get("url"), m.get("version")
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            return None, "file_size missing or not a positive integer"
        if (not isinstance(md5, str) or len(md5) != 32
                or any(ch not in "0123456789abcdefABCDEF" for ch in md5)):
            return None, "md5sum missing or not 32 hex digits"
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return None, "url missing or not http(s)"
        if (not isinstance(version, str) or not version or len(version) > 64
                or not version.isprintable()):
            return None, "version missing, empty or not printable"
        return {"size": size, "md5": md5.lower(), "url": url,
                "version": version}, None

    # ------------------------------------------------------------ the update

    def run_update(self, job):
        """Download, verify, burn, switch.  Returns True when a reboot is due."""
        v = job["version"]
        try:
            if job["size"] > MAX_IMAGE:
                raise UpdateFail(RC_UPDATE, "file_size %d exceeds the slot (%d)"
                                 % (job["size"], MAX_IMAGE))
            self.download(job)
            self.verify_download(job)
            self.report_progress("burning", v)
            self.burn(job)
        except UpdateFail as f:
            say("ota: update to %s failed: %d %s", v, f.code, f.msg)
            self.report_progress("fail", v, code=f.code, msg=f.msg)
            # Free before the version report: the cloud answers it with a re-push
            # (seed 001, 断点续传), which may arrive before this function returns.
            self.release(job)
            self.report_version()
            return False
        info = self.report_progress("done", v)
        say("ota: update to %s done, rebooting", v)
        if info is not None:
            try:
                info.wait_for_publish(timeout=2.0)
            except (RuntimeError, ValueError):
                pass  # not connected: the version report after reboot says it all
        return True

    def release(self, job):
        """Not busy any more with `job` (a later update already taken stays busy)."""
        with self.lock:
            if self.busy is job:
                self.busy = None

    def load_breakpoint(self, job):
        """Returns the offset to resume from (0 if no matching breakpoint)."""
        remove_quiet(self.dl_path + ".tmp")
        bp = read_json(self.dl_path)
        if bp is not None:
            same = (isinstance(bp, dict) and bp.get("md5") == job["md5"]
                    and bp.get("size") == job["size"]
                    and bp.get("version") == job["version"])
            off = bp.get("offset") if isinstance(bp, dict) else None
            try:
                have = os.path.getsize(self.part_path)
            except OSError:
                have = -1
            if same and "repush-restarts" in self.a.bug:
                say("ota: BUG repush-restarts: breakpoint for version %s at %s ignored, "
                    "starting at 0", job["version"], off)
            elif (same and isinstance(off, int) and 0 <= off <= job["size"]
                    and have >= off):
                # Bytes past `offset` were written but maybe not synced: drop them.
                with open(self.part_path, "r+b") as f:
                    f.truncate(off)
                    os.fsync(f.fileno())
                say("ota: breakpoint matches (version %s md5 %s), resuming at %d/%d",
                    job["version"], job["md5"], off, job["size"])
                return off
            say("ota: breakpoint for version %s md5 %s does not match, starting at 0",
                bp.get("version") if isinstance(bp, dict) else "?",
                bp.get("md5") if isinstance(bp, dict) else "?")
        remove_quiet(self.dl_path)
        with open(self.part_path, "wb") as f:
            os.fsync(f.fileno())
        self.save_breakpoint(job, 0)
        return 0

    def save_breakpoint(self, job, offset):
        rec = {"url": job["url"], "md5": job["md5"], "size": job["size"],
               "version": job["version"], "offset": offset}
        write_atomic(self.dl_path, json.dumps(rec, sort_keys=True).encode() + b"\n")

    def drop_breakpoint(self):
        remove_quiet(self.dl_path)
        remove_quiet(self.part_path)
        fsync_dir(self.state)

    def download(self, job):
        size = job["size"]
        off = self.load_breakpoint(job)
        self.last_pct, self.last_report_at = -1, None
        fails = 0
        with open(self.part_path, "r+b") as part:
            part.seek(off)
            while off < size:
                before = off
                try:
                    self.fetch_once(job, part, off)
                    off = part.tell()
                except Broken as e:
                    # The file position is the truth: fetch_once writes in order.
                    off = part.tell()
                    self.persist(job, part, off)
                    if self.a.retry == "wait" and not isinstance(e, Restart):
                        # As the Tencent SDK sample: report, keep the breakpoint
                        # and wait for the cloud to push this firmware again.
                        say("ota: download broken at %d/%d (%s); breakpoint kept, "
                            "waiting for the cloud to push %s again", off, size, e,
                            job["version"])
                        raise UpdateFail(RC_TIMEOUT, "time_out: download broken at "
                                         "offset %d: %s" % (off, e))
                    fails = 0 if off > before else fails + 1
                    say("ota: download broken at %d/%d (%s); %d attempt(s) without "
                        "progress of %d", off, size, e, fails, self.a.retries)
                    if fails >= self.a.retries:
                        raise UpdateFail(RC_TIMEOUT, "time_out: download failed after "
                                         "%d attempts at offset %d: %s" % (fails, off, e))
                    time.sleep(0.2)
                except UpdateFail as f:
                    if f.code == RC_MD5:
                        self.drop_breakpoint()  # the server's file is not this one
                    else:
                        self.persist(job, part, part.tell())
                    raise
            self.persist(job, part, off)
        say("ota: downloaded %d bytes", off)

    def persist(self, job, part, off):
        """Syncs the partial file, then records `off` bytes as safely on flash."""
        part.flush()
        os.fsync(part.fileno())
        self.save_breakpoint(job, off)

    def fetch_once(self, job, part, off):
        """One HTTP request from `off`, appending to `part` until `size` bytes.

        Raises Broken for a retryable break and UpdateFail for a final error."""
        size, v = job["size"], job["version"]
        req = urllib.request.Request(job["url"], headers={"User-Agent": "qcdev/1"})
        if off > 0:
            req.add_header("Range", "bytes=%d-" % off)
        say("ota: GET %s from offset %d", job["url"], off)
        self.req_start = off
        tmo = self.a.download_timeout
        try:
            resp = self.opener.open(req, timeout=tmo)
        except urllib.error.HTTPError as e:
            e.close()
            if e.code == 404:
                raise UpdateFail(RC_NOFILE, "file_not_exist: HTTP 404")
            if e.code == 403:
                raise UpdateFail(RC_SIGN, "sign_expired: HTTP 403")
            if e.code == 416 and off > 0:
                # The server does not accept our offset: start over from 0.
                self.restart_part(job, part)
                raise Restart("HTTP 416 for offset %d, restarting at 0" % off)
            raise Broken("HTTP %d" % e.code)
        except (socket.timeout, TimeoutError):
            raise UpdateFail(RC_TIMEOUT, "time_out: no answer in %gs" % tmo)
        except urllib.error.URLError as e:
            if isinstance(e.reason, (socket.timeout, TimeoutError)):
                raise UpdateFail(RC_TIMEOUT, "time_out: no answer in %gs" % tmo)
            raise Broken("connect: %s" % e.reason)
        except (OSError, http.client.HTTPException) as e:
            raise Broken("connect: %r" % e)
        with resp:
            status = resp.status
            if off > 0 and status == 200:
                say("ota: server ignored Range, restarting at 0")
                off = self.restart_part(job, part)
                self.req_start = 0
            elif status == 206:
                cr = resp.headers.get("Content-Range", "")
                start, total = self.parse_content_range(cr)
                if start != off:
                    raise Broken("Content-Range %r does not start at %d" % (cr, off))
                if total is not None and total != size:
                    raise UpdateFail(RC_MD5, "size mismatch: server has %d bytes, "
                                     "update says %d" % (total, size))
            elif status != 200:
                raise Broken("HTTP %d" % status)
            clen = resp.headers.get("Content-Length")
            if status == 200 and clen is not None and clen.isdigit() and int(clen) != size:
                raise UpdateFail(RC_MD5, "size mismatch: server has %s bytes, update "
                                 "says %d" % (clen, size))
            synced_off, synced_at = off, time.monotonic()
            while off < size:
                try:
                    b = resp.read(min(CHUNK, size - off + 1))
                except (socket.timeout, TimeoutError):
                    raise UpdateFail(RC_TIMEOUT, "time_out: no byte for %gs at "
                                     "offset %d" % (tmo, off))
                except (OSError, http.client.HTTPException) as e:
                    raise Broken("read: %r" % e)
                if not b:
                    raise Broken("connection closed at %d/%d" % (off, size))
                if off + len(b) > size:
                    raise UpdateFail(RC_MD5, "size mismatch: more than %d bytes" % size)
                part.write(b)
                off += len(b)
                self.chunk_progress(v, off, size)
                now = time.monotonic()
                if off - synced_off >= PERSIST_BYTES or now - synced_at >= PERSIST_SECS:
                    self.persist(job, part, off)
                    synced_off, synced_at = off, now

    def chunk_progress(self, version, off, size):
        """After a chunk: the "downloading" report, as --progress says."""
        start = self.req_start
        if "resume-percent-of-remainder" in self.a.bug and start > 0:
            pct = (off - start) * 100 // (size - start)
        else:
            pct = off * 100 // size
        now = time.monotonic()
        if self.a.progress_ms is None:       # every: each chunk that moves the percent
            if pct == self.last_pct:
                return
        elif (self.last_report_at is not None
                and now - self.last_report_at < self.a.progress_ms / 1000.0):
            return
        self.last_pct, self.last_report_at = pct, now
        self.report_progress("downloading", version, percent=pct)

    def restart_part(self, job, part):
        self.last_pct = -1
        part.seek(0)
        part.truncate(0)
        part.flush()
        os.fsync(part.fileno())
        self.save_breakpoint(job, 0)
        return 0

    @staticmethod
    def parse_content_range(cr):
        """'bytes 100-199/1000' -> (100, 1000); total None for '*'; (-1, None) if bad."""
        try:
            unit, rest = cr.strip().split(" ", 1)
            rng, total = rest.split("/", 1)
            start = int(rng.split("-", 1)[0])
            if unit != "bytes":
                return -1, None
            return start, (None if total == "*" else int(total))
        except ValueError:
            return -1, None

    def verify_download(self, job):
        try:
            have = os.path.getsize(self.part_path)
        except OSError as e:
            raise UpdateFail(RC_MD5, "downloaded file missing: %s" % e)
        h = hashlib.md5()
        with open(self.part_path, "rb") as f:
            while True:
                b = f.read(1 << 16)
                if not b:
                    break
                h.update(b)
        got = h.hexdigest()
        if have != job["size"] or got != job["md5"]:
            # These bytes are wrong; a re-push must not resume from them.
            self.drop_breakpoint()
            if have != job["size"]:
                raise UpdateFail(RC_MD5, "size mismatch: got %d, want %d"
                                 % (have, job["size"]))
            raise UpdateFail(RC_MD5, "md5_not_match: got %s, want %s"
                             % (got, job["md5"]))
        say("ota: size and MD5 verified (%s)", got)

    def burn(self, job):
        """Checks the image, writes the inactive slot over --burn-ms, switches."""
        meta, why = image_check(self.part_path)
        if meta is None:
            self.drop_breakpoint()
            raise UpdateFail(RC_UPDATE, "update_failed: image rejected: %s" % why)
        if meta["version"] != job["version"]:
            self.drop_breakpoint()
            raise UpdateFail(RC_UPDATE, "update_failed: image is version %s, update "
                             "says %s" % (meta["version"], job["version"]))
        if not meta["burn_ok"]:
            self.drop_breakpoint()
            raise UpdateFail(RC_UPDATE, "update_failed: image refuses to burn")
        slot = "b" if self.boot["active"] == "a" else "a"
        dst = self.slot_path(slot)
        say("ota: burning version %s into slot %s", job["version"], slot)
        # The inactive slot is not referenced by the boot table, so a power cut
        # while writing it leaves the running slot and the table as they were.
        size = job["size"]
        steps = max(1, min(50, size // 4096 or 1))
        per = -(-size // steps)
        pause = self.a.burn_ms / 1000.0 / steps
        with open(self.part_path, "rb") as src, open(dst, "wb") as out:
            while True:
                b = src.read(per)
                if not b:
                    break
                out.write(b)
                time.sleep(pause)
            out.flush()
            os.fsync(out.fileno())
        fsync_dir(self.state)
        digest = sha256_file(dst)
        if digest != sha256_file(self.part_path):
            raise UpdateFail(RC_UPDATE, "update_failed: slot %s read-back mismatch" % slot)
        # The switch: one atomic rewrite of the boot table.
        self.boot["slots"][slot] = {"version": job["version"], "sha256": digest,
                                    "size": size}
        self.boot["pending"] = slot
        self.save_boot()
        say("ota: slot %s pending with version %s", slot, job["version"])
        self.drop_breakpoint()

    # ------------------------------------------------------------ main loop

    def pay_owed_report(self):
        """After a rollback: tell the cloud, once connected, that the update failed."""
        owed = self.boot.get("owed")
        if not owed:
            return
        while not self.connected.wait(0.5):
            pass
        self.report_progress("fail", owed["version"], code=owed["code"], msg=owed["msg"])
        info = self.report_version()
        try:
            if info is not None:
                info.wait_for_publish(timeout=2.0)
        except (RuntimeError, ValueError):
            pass
        self.boot["owed"] = None
        self.save_boot()

    def run(self):
        say("power on: %s.%s, state %s", self.a.product, self.a.device, self.state)
        while True:
            self.do_boot()
            self.mqtt_start()
            try:
                self.pay_owed_report()
                while True:
                    try:
                        job = self.jobs.get(timeout=0.5)
                    except queue.Empty:
                        continue
                    reboot = False
                    try:
                        reboot = self.run_update(job)
                    finally:
                        if not reboot:
                            self.release(job)
                    if reboot:
                        break
            finally:
                self.mqtt_stop()
            # Still busy until here, so no update was queued for the old firmware.
            with self.lock:
                self.busy = None
            say("reboot")


def on_sigterm(signum, frame):
    # Graceful power-off: unwind so the MQTT session is closed; flash writes are
    # power-cut safe, so leaving them halfway is fine.
    raise SystemExit(0)


def cmd_run(args):
    if mqtt is None:
        print("qcloud_device: paho-mqtt is not importable by %s; use /usr/bin/python3 "
              "(Debian python3-paho-mqtt)" % sys.executable, file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, on_sigterm)
    dev = Device(args)
    try:
        dev.run()
    except KeyboardInterrupt:
        pass
    except SystemExit:
        say("power off")
        raise
    return 0


BUGS = ("resume-percent-of-remainder", "repush-restarts")


def progress_arg(text):
    """argparse type of --progress: "every" or "rate:MS" with MS >= 1."""
    if text == "every":
        return text
    if text.startswith("rate:") and text[5:].isdigit() and int(text[5:]) >= 1:
        return "rate:%d" % int(text[5:])
    raise argparse.ArgumentTypeError("%r is neither every nor rate:MS (MS >= 1)" % text)


def main(argv=None):
    p = argparse.ArgumentParser(prog="qcloud_device.py",
                                description="An independent Tencent OTA device.")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run the device")
    r.add_argument("--host", required=True)
    r.add_argument("--port", required=True, type=int)
    r.add_argument("--ca", help="TLS: MQTT over TLS and https downloads, verified against this CA (PEM)")
    r.add_argument("--secret", help="the device secret (base64): sign the MQTT login as "
                   "Tencent's SDK does (key authentication)")
    r.add_argument("--product", required=True)
    r.add_argument("--device", required=True)
    r.add_argument("--state", required=True, help="flash directory")
    r.add_argument("--version", default="1.0.0", help="factory version (empty flash)")
    r.add_argument("--boot-ms", type=int, default=100)
    r.add_argument("--burn-ms", type=int, default=300)
    r.add_argument("--download-timeout", type=float, default=5.0)
    r.add_argument("--retries", type=int, default=3,
                   help="--retry self: attempts without progress before fail -1")
    r.add_argument("--retry", choices=("self", "wait"), default="self",
                   help="after a broken download: self = retry at once with Range "
                   "from the breakpoint (default); wait = report fail -1 and the "
                   "version, keep the breakpoint, resume with Range when the cloud "
                   "pushes the same firmware again (the Tencent SDK sample)")
    r.add_argument("--progress", type=progress_arg, default="every",
                   metavar="every|rate:MS",
                   help="downloading reports: every = each chunk that moves the "
                   "percent, ending at 100 (default); rate:MS = at most one per MS "
                   "ms, no 100 %% report promised before burning (the SDK: rate:1000)")
    r.add_argument("--bug", action="append", default=[], choices=BUGS,
                   help="a defect on purpose (repeatable): resume-percent-of-remainder "
                   "= after a Range resume report the percent of the remaining bytes; "
                   "repush-restarts = a re-push of the breakpoint's firmware "
                   "downloads from 0")
    m = sub.add_parser("mkimage", help="write a firmware image")
    m.add_argument("--version", required=True)
    m.add_argument("--size", required=True, type=int)
    g = m.add_mutually_exclusive_group()
    g.add_argument("--fail-boot", action="store_true", help="burns, never boots")
    g.add_argument("--fail-burn", action="store_true", help="rejected at burn (-5)")
    m.add_argument("-o", dest="output", required=True)
    a = p.parse_args(argv)
    if a.cmd == "run":
        if a.boot_ms < 0 or a.burn_ms < 0 or a.download_timeout <= 0 or a.retries < 1:
            p.error("--boot-ms/--burn-ms must be >= 0, --download-timeout > 0, "
                    "--retries >= 1")
        if not (0 < a.port < 65536):
            p.error("--port out of range")
        a.progress_ms = None if a.progress == "every" else int(a.progress[5:])
        return cmd_run(a)
    if not a.version or a.size <= 0:
        p.error("mkimage needs a non-empty --version and a positive --size")
    return cmd_mkimage(a)


if __name__ == "__main__":
    sys.exit(main())
