#!/usr/bin/python3
"""aliyun_device: an independent Aliyun IoT OTA device (and its HaaS flavour), in Python.

It exists to prove that the aliyun and haas suites judge the *protocol*, not our
C emulator: it shares no code and no image format with otadev.  It follows the
Aliyun seed (/work/shared/seeds/003_*.txt), the HaaS `ota` seed (004_*.txt) and
the vendor's public documents:
  - Aliyun IoT Platform, "OTA升级" (Alink topics and data formats): inform,
    upgrade, progress (step 1..100, -1 upgrade failed, -2 download failed, -3
    verify failed, -4 burn failed; at most one report per 3 s recommended),
    firmware/get and its get_reply (empty data = nothing to do).
  - Link SDK C components/ota (aiot_ota_api.h: the four failure steps, digest
    MD5 or SHA256 and nothing else) and components/mqtt_download (the block
    request {fileToken, fileInfo{streamId, fileId}, fileBlock{size, offset}};
    the reply: 2-byte big-endian JSON header length, the header {code 200,
    data{fileToken, fileLength, bSize, bOffset}}, bSize bytes, CRC-16/ARC of
    them read as a little-endian uint16; a bad CRC asks the same block again,
    a reply for another offset is ignored and the block asked again on timeout).
  - AliOS Things HaaS `ota`: ota.report{module_name, version} per module
    ("default" = system firmware), on_trigger{url, length, module_name,
    version, hash, hash_type md5|sha256}, download over HTTP, verify, a file
    module installed in place; a system upgrade is triggered by reporting a
    version lower than the cloud's.

With --ca CA.pem the device reaches the cloud over TLS, as production firmware
does: MQTT over TLS and https:// downloads, the server's chain and host name
verified against that CA (Python's ssl); --secret signs its MQTT login.

Commands
  run      be a device until SIGTERM (graceful) or SIGKILL (power cut)
  mkimage  write a firmware image in this device's format

Flash (the --state directory, survives power cuts; every record is written to
a temp file, fsynced, renamed over the old one and the directory fsynced, so a
SIGKILL at any instant leaves the old record or the new one):
  nvram.json   the whole table: firmware A/B slots (active, pending, per-slot
               version/sha256), the modules (version, installed file), failure
               reports owed to the cloud (after a rollback)
  slot_a.bin slot_b.bin   burnt firmware images (the factory slot has none)
  mod-<hash>-<n>.bin      installed module files (the table names the live one)
  bp.json      HTTP breakpoint: module, url, digest, size, version, offset
  bp.part      the partial download; only the first `offset` bytes count

Image format ("PYAYFW1"), exactly --size bytes:
  b"PYAYFW1" + 2-byte big-endian length L + L bytes of JSON
  {"version","boot_ok","burn_ok","payload_len"} + payload_len pseudo-random
  bytes (seeded by version and size) + 32-byte SHA-256 of everything before.
"""

import argparse
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
import urllib.parse

try:
    import paho.mqtt.client as mqtt
except ImportError:  # mkimage works without paho; run says so clearly
    mqtt = None

IMG_MAGIC = b"PYAYFW1"
IMG_TRAILER = 32
IMG_HEADER_MAX = 4096
MAX_IMAGE = 64 * 1024 * 1024         # slot capacity
MAX_MQTT_FILE = 16 * 1024 * 1024     # the platform's limit for MQTT downloads
MAX_MSG = 64 * 1024                  # larger JSON messages are garbage
BLOCK_MIN, BLOCK_MAX = 256, 131072   # the platform's block sizes
BLOCK_TRIES = 5                      # asks of one block before -2
HTTP_TRIES = 3                       # attempts without progress before -2 (--retry self)
CHUNK = 4096
STEP_UPGRADE, STEP_DOWNLOAD, STEP_VERIFY, STEP_BURN = -1, -2, -3, -4
BUGS = ("no-resume", "trust-md5", "no-block-crc", "informs-before-reboot")

_console_lock = threading.Lock()


def say(fmt, *args):
    """One console line, flushed at once: the harness reads a pty line by line."""
    line = fmt % args if args else fmt
    with _console_lock:
        try:
            sys.stdout.write("pyay: " + line + "\n")
            sys.stdout.flush()
        except (OSError, ValueError):
            pass  # a console nobody reads must not stop the device


def crc16_arc(data):
    """CRC-16/ARC (poly 0x8005 reflected = 0xA001, init 0, no final xor)."""
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


# ---------------------------------------------------------------- flash helpers

def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path, data):
    """Replaces `path` with `data`: a power cut leaves the old file or the new one."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(os.path.dirname(path) or ".")


def read_json(path):
    """The parsed file, or None if it is missing or unreadable."""
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


def file_digest(path, algo):
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 16)
            if not b:
                return h.hexdigest()
            h.update(b)


# ---------------------------------------------------------------- image format

def image_bytes(version, size, boot_ok=True, burn_ok=True):
    """An image of exactly `size` bytes; ValueError if that is impossible."""
    meta = {"version": version, "boot_ok": boot_ok, "burn_ok": burn_ok, "payload_len": 0}
    for _ in range(4):  # payload_len's digits change the header's length
        head = json.dumps(meta, sort_keys=True).encode()
        want = size - len(IMG_MAGIC) - 2 - len(head) - IMG_TRAILER
        if want < 0:
            raise ValueError("size %d too small for a %d-byte header" % (size, len(head)))
        if want == meta["payload_len"]:
            break
        meta["payload_len"] = want
    else:
        raise ValueError("no stable header for size %d" % size)
    if len(head) > IMG_HEADER_MAX:
        raise ValueError("header longer than %d bytes" % IMG_HEADER_MAX)
    payload = random.Random("pyay:%s:%d" % (version, size)).randbytes(meta["payload_len"])
    body = IMG_MAGIC + len(head).to_bytes(2, "big") + head + payload
    return body + hashlib.sha256(body).digest()


def image_check(path):
    """Reads the image at `path`: (meta, None) or (None, why)."""
    try:
        total = os.path.getsize(path)
        with open(path, "rb") as f:
            if f.read(len(IMG_MAGIC)) != IMG_MAGIC:
                return None, "no PYAYFW1 magic"
            hl = int.from_bytes(f.read(2), "big")
            if hl == 0 or hl > IMG_HEADER_MAX:
                return None, "header length %d out of range" % hl
            try:
                meta = json.loads(f.read(hl).decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as e:
                return None, "header JSON: %s" % e
            if (not isinstance(meta, dict) or not isinstance(meta.get("version"), str)
                    or not isinstance(meta.get("boot_ok"), bool)
                    or not isinstance(meta.get("burn_ok"), bool)
                    or not isinstance(meta.get("payload_len"), int)):
                return None, "header fields missing or of the wrong type"
            want = len(IMG_MAGIC) + 2 + hl + meta["payload_len"] + IMG_TRAILER
            if total != want:
                return None, "length %d, header says %d" % (total, want)
            f.seek(0)
            h = hashlib.sha256()
            left = total - IMG_TRAILER
            while left > 0:
                b = f.read(min(left, 1 << 16))
                if not b:
                    return None, "short read"
                h.update(b)
                left -= len(b)
            if f.read(IMG_TRAILER) != h.digest():
                return None, "SHA-256 trailer mismatch"
            return meta, None
    except OSError as e:
        return None, "cannot read: %s" % e


def cmd_mkimage(a):
    try:
        data = image_bytes(a.version, a.size, boot_ok=not a.fail_boot, burn_ok=not a.fail_burn)
        write_atomic(os.path.abspath(a.output), data)
    except (ValueError, OSError) as e:
        print("mkimage: %s: %s" % (a.output, e), file=sys.stderr)
        return 1
    print("mkimage: %s version %s size %d md5 %s sha256 %s" % (
        a.output, a.version, len(data), hashlib.md5(data).hexdigest(),
        hashlib.sha256(data).hexdigest()))
    return 0


# ---------------------------------------------------------------- errors

class Fail(Exception):
    """A failed upgrade: the platform's step (-1..-4) and a description."""

    def __init__(self, step, desc, keep=False):
        super().__init__(desc)
        self.step = step
        self.desc = desc
        self.keep = keep     # the breakpoint stays for a later resume


class Broken(Exception):
    """The HTTP transfer broke; a retry may resume from the breakpoint."""


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def as_uint(v):
    """An int >= 0 from an int or a string of digits (the platform uses both), else None."""
    if is_int(v) and v >= 0:
        return v
    if isinstance(v, str) and v.isdigit() and len(v) <= 12:
        return int(v)
    return None


def is_hex(s, n):
    return isinstance(s, str) and len(s) == n and all(c in "0123456789abcdefABCDEF" for c in s)


def ok_name(s, limit=64):
    return isinstance(s, str) and 0 < len(s) <= limit and s.isprintable()


# ---------------------------------------------------------------- progress

class Reporter:
    """Progress reports under the device's policy (--progress).

    every: a report on every percent change.  rate:MS: at most one report per
    MS ms, device-wide (the platform recommends at most one per 3 s); a percent
    that comes too soon is not sent, a failure step waits for its turn."""

    def __init__(self, dev, rate_ms):
        self.dev = dev
        self.rate = None if rate_ms is None else rate_ms / 1000.0
        self.last = None          # monotonic time of the last report sent
        self.last_info = None     # its publish, to wait for before a reboot
        self.lock = threading.Lock()

    def may_send(self):
        return self.rate is None or self.last is None or \
            time.monotonic() - self.last >= self.rate

    def send(self, module, step, desc, wait=False):
        """Returns the publish info, or None when rate-limited away (or offline)."""
        with self.lock:
            if not self.may_send():
                if not wait:
                    return None
                time.sleep(max(0.0, self.last + self.rate - time.monotonic()) + 0.01)
            self.last = time.monotonic()
            self.last_info = self.dev.publish(self.dev.t_progress,
                                              {"id": self.dev.next_id(),
                                               "params": {"step": str(step), "desc": desc,
                                                          "module": module}})
            return self.last_info


# ---------------------------------------------------------------- the device

class Device:
    def __init__(self, a):
        self.a = a
        self.haas = a.flavour == "haas"
        self.bug = a.bug
        self.state = os.path.abspath(a.state)
        self.nv_path = os.path.join(self.state, "nvram.json")
        self.bp_path = os.path.join(self.state, "bp.json")
        self.part_path = os.path.join(self.state, "bp.part")
        pk, dn = a.product, a.device
        self.t_inform = "/ota/device/inform/%s/%s" % (pk, dn)
        self.t_upgrade = "/ota/device/upgrade/%s/%s" % (pk, dn)
        self.t_progress = "/ota/device/progress/%s/%s" % (pk, dn)
        self.t_get = "/sys/%s/%s/thing/ota/firmware/get" % (pk, dn)
        self.t_get_reply = self.t_get + "_reply"
        self.t_block = "/sys/%s/%s/thing/file/download" % (pk, dn)
        self.t_block_reply = self.t_block + "_reply"
        self.jobs = queue.Queue()
        self.blocks = queue.Queue(maxsize=64)
        self.block_active = False
        self.lock = threading.Lock()        # busy, pending gets, ids
        self.nv_lock = threading.Lock()     # the table on flash
        self.busy = None
        self.gets = {}                      # firmware/get ids in flight -> module
        self.msg_id = int(time.time() * 1000) % 4000000000
        self.connected = threading.Event()
        self.client = None
        self.connect_failing = False
        self.nv = None
        self.token_seq = 0
        self.reporter = Reporter(self, a.rate_ms)

    # ------------------------------------------------------------ ids, MQTT

    def next_id(self):
        with self.lock:
            self.msg_id = (self.msg_id + 1) % 4294967296
            return str(self.msg_id)

    def publish(self, topic, obj, qos=1):
        c = self.client
        if c is None:
            return None
        data = json.dumps(obj, separators=(",", ":"))
        say("mqtt: > %s %s", topic, data)
        try:
            return c.publish(topic, data, qos=qos)  # QoS 1: paho resends after a reconnect
        except (ValueError, RuntimeError) as e:
            say("mqtt: publish on %s failed: %r", topic, e)
            return None

    @staticmethod
    def wait_sent(info, secs=2.0):
        if info is None:
            return
        try:
            info.wait_for_publish(timeout=secs)
        except (RuntimeError, ValueError):
            pass  # not connected: the informs after the next connect say it all

    def login(self):
        """Aliyun's device-secret login (the vendor's 'MQTT-TCP连接通信' page):
        client id 'id|securemode=3,signmethod=hmacsha256,timestamp=MS|', user
        name 'deviceName&productKey', password hex HMAC-SHA256 with the device
        secret of 'clientId{id}deviceName{dn}productKey{pk}timestamp{MS}'.
        Without --secret: an unsigned login, client id product.device."""
        cid = "%s.%s" % (self.a.product, self.a.device)
        if not self.a.secret:
            return cid, None, None
        ms = str(int(time.time() * 1000))
        content = "clientId%sdeviceName%sproductKey%stimestamp%s" % (cid, self.a.device, self.a.product, ms)
        sign = hmac.new(self.a.secret.encode(), content.encode(), hashlib.sha256).hexdigest()
        return ("%s|securemode=3,signmethod=hmacsha256,timestamp=%s|" % (cid, ms),
                "%s&%s" % (self.a.device, self.a.product), sign)

    def mqtt_start(self):
        cid, user, password = self.login()
        c = mqtt.Client(client_id=cid, clean_session=True, protocol=mqtt.MQTTv311)
        if user:
            c.username_pw_set(user, password)
        c.on_connect = self.on_connect
        c.on_disconnect = self.on_disconnect
        c.on_message = self.on_message
        c.on_connect_fail = self.on_connect_fail
        c.reconnect_delay_set(min_delay=0.5, max_delay=2)
        if self.a.ca:  # MQTT over TLS: the broker's chain and name verified against the CA
            c.tls_set(ca_certs=self.a.ca)
        self.connected.clear()
        self.client = c
        c.connect_async(self.a.host, self.a.port, keepalive=30)
        c.loop_start()
        say("mqtt: connecting to %s:%d as %s.%s (%s flavour)", self.a.host, self.a.port,
            self.a.product, self.a.device, self.a.flavour)

    def mqtt_stop(self):
        c, self.client = self.client, None
        self.connected.clear()
        if c is not None:
            try:
                c.disconnect()
            except (ValueError, RuntimeError):
                pass
            c.loop_stop()

    def on_connect(self, client, userdata, flags, rc):
        try:
            if rc != 0:
                say("mqtt: connect refused rc=%d (%s)", rc, mqtt.connack_string(rc))
                return
            self.connect_failing = False
            say("mqtt: connected")
            # Subscribe before anything is said: a cloud may answer an inform at once.
            client.subscribe([(self.t_upgrade, 1), (self.t_get_reply, 1), (self.t_block_reply, 0)])
            for module, version in self.versions():
                self.publish(self.t_inform, {"id": self.next_id(),
                                             "params": {"version": version, "module": module}})
            if not self.haas:
                # Vendor: a device may ask for the pending task (aiot_ota_query_firmware).
                for module, _ in self.versions():
                    self.ask_firmware(module)
            self.connected.set()
        except Exception as e:  # an exception would kill paho's thread
            say("mqtt: on_connect error: %r", e)

    def ask_firmware(self, module):
        mid = self.next_id()
        with self.lock:
            self.gets[mid] = module
            while len(self.gets) > 32:
                self.gets.pop(next(iter(self.gets)))
        self.publish(self.t_get, {"id": mid, "version": "1.0", "params": {"module": module},
                                  "method": "thing.ota.firmware.get"})

    def on_connect_fail(self, client, userdata):
        if not self.connect_failing:
            self.connect_failing = True
            say("mqtt: cannot reach %s:%d, retrying", self.a.host, self.a.port)

    def on_disconnect(self, client, userdata, rc):
        self.connected.clear()
        if rc != 0:
            say("mqtt: connection lost (rc=%d), reconnecting", rc)

    # ------------------------------------------------------------ messages

    def on_message(self, client, userdata, msg):
        try:
            self.handle_message(msg.topic, msg.payload)
        except Exception as e:  # never let garbage kill paho's thread
            say("ota: message on %s not handled: %r", msg.topic, e)

    def handle_message(self, topic, payload):
        if topic == self.t_block_reply:
            if not self.block_active:
                say("ota: ignored a download_reply nobody asked for (%d bytes)", len(payload))
                return
            if len(payload) > BLOCK_MAX + IMG_HEADER_MAX:
                say("ota: ignored a %d-byte download_reply (too large)", len(payload))
                return
            try:
                self.blocks.put_nowait(bytes(payload))
            except queue.Full:
                say("ota: block reply queue full, reply dropped")
            return
        if topic not in (self.t_upgrade, self.t_get_reply):
            say("ota: ignored message on unexpected topic %s", topic)
            return
        if len(payload) > MAX_MSG:
            say("ota: ignored %d-byte message on %s (limit %d)", len(payload), topic, MAX_MSG)
            return
        try:
            m = json.loads(bytes(payload).decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            say("ota: ignored message on %s: not JSON (%s)", topic, e)
            return
        if not isinstance(m, dict):
            say("ota: ignored message on %s: not a JSON object", topic)
            return
        if topic == self.t_get_reply:
            mid = m.get("id")
            mid = str(mid) if isinstance(mid, (str, int)) and not isinstance(mid, bool) else None
            with self.lock:
                module = self.gets.pop(mid, None) if mid is not None else None
            if module is None:
                say("ota: ignored a get_reply nobody asked for (id %r)", m.get("id"))
                return
            if as_uint(m.get("code")) != 200:
                say("ota: get_reply for %s has code %r, nothing to do", module, m.get("code"))
                return
            data = m.get("data")
            if isinstance(data, dict) and not data:
                say("ota: get_reply: no upgrade for module %s", module)
                return
            source = "get_reply"
        else:
            code = m.get("code")
            if code is not None and as_uint(code) != 1000:
                say("ota: ignored upgrade with code %r", code)
                return
            data = m.get("data")
            source = "upgrade"
        job, why = self.parse_job(data)
        if job is None:
            say("ota: ignored %s: %s", source, why)
            return
        with self.lock:
            if self.busy is not None:
                same = self.same_firmware(self.busy, job)
                say("ota: ignored %s to %s %s: busy with %s %s%s", source, job["module"],
                    job["version"], self.busy["module"], self.busy["version"],
                    " (the same firmware)" if same else "")
                return
            self.busy = job
        say("ota: %s: module %s version %s, %d bytes, %s %s, via %s", source, job["module"],
            job["version"], job["size"], job["method"], job["sign"], job["proto"])
        self.jobs.put(job)

    @staticmethod
    def same_firmware(x, y):
        return all(x[k] == y[k] for k in ("module", "version", "size", "method", "sign"))

    def parse_job(self, d):
        """Checks upgrade data (a push or a get_reply): (job, None) or (None, why)."""
        if not isinstance(d, dict):
            return None, "data missing or not an object"
        version = d.get("version")
        if not ok_name(version):
            return None, "version missing, empty, too long or not printable"
        size = as_uint(d.get("size"))
        if not size:
            return None, "size missing or not a positive integer"
        module = d.get("module", "default")
        if module in (None, ""):
            module = "default"
        if not ok_name(module):
            return None, "module is not a printable name"
        if module != "default" and module not in self.nv["modules"]:
            return None, "unknown module %r (this device has %s)" % (
                module, ", ".join(["default"] + sorted(self.nv["modules"])))
        method = d.get("signMethod")
        if not isinstance(method, str) or method.upper() not in ("MD5", "SHA256"):
            # Link SDK: any other digest method is refused (STATE_OTA_UNKNOWN_DIGEST_METHOD).
            return None, "signMethod %r is neither MD5 nor SHA256: not downloading an image " \
                         "that cannot be verified" % (method,)
        method = method.upper()
        sign, md5 = d.get("sign"), d.get("md5")
        if method == "MD5":
            if sign is None and md5 is None:
                return None, "signMethod MD5 without sign or md5"
            for name, v in (("sign", sign), ("md5", md5)):
                if v is not None and not is_hex(v, 32):
                    return None, "%s is not 32 hex digits" % name
            sign = (sign or md5).lower()
            md5 = md5.lower() if md5 else None
        else:
            if not is_hex(sign, 64):
                return None, "signMethod SHA256 needs sign of 64 hex digits"
            sign, md5 = sign.lower(), None
        job = {"module": module, "version": version, "size": size, "method": method,
               "sign": sign, "md5": md5}
        proto = d.get("dProtocol")
        if isinstance(proto, str) and proto.lower() == "mqtt":
            if self.haas:
                return None, "dProtocol mqtt: HaaS downloads over HTTP only"
            sid, fid = as_uint(d.get("streamId")), as_uint(d.get("streamFileId"))
            if sid is None or fid is None:
                return None, "dProtocol mqtt without integer streamId and streamFileId"
            if size > MAX_MQTT_FILE:
                return None, "MQTT download of %d bytes is over the platform's %d" % (
                    size, MAX_MQTT_FILE)
            job.update(proto="mqtt", stream=sid, file=fid, url=None)
        else:
            if proto is not None and (not isinstance(proto, str)
                                      or proto.lower() not in ("http", "https")):
                return None, "dProtocol %r is not one this device speaks" % (proto,)
            url = d.get("url")
            if not isinstance(url, str) or len(url) > 4096 or \
                    not url.lower().startswith(("http://", "https://")):
                return None, "url missing or not http(s)"
            job.update(proto="http", url=url)
        if d.get("isDiff") == 1:
            say("ota: isDiff 1 announced; this device installs whole images (the image check decides)")
        return job, None

    # ------------------------------------------------------------ flash table

    def slot_path(self, slot):
        return os.path.join(self.state, "slot_%s.bin" % slot)

    def save_nv(self):
        with self.nv_lock:
            write_atomic(self.nv_path, json.dumps(self.nv, sort_keys=True).encode() + b"\n")

    @staticmethod
    def nv_ok(nv):
        try:
            return (nv["active"] in ("a", "b") and nv["pending"] in (None, "a", "b")
                    and isinstance(nv["slots"][nv["active"]]["version"], str)
                    and isinstance(nv["modules"], dict) and isinstance(nv["owed"], list)
                    and is_int(nv["seq"])
                    and all(isinstance(m.get("version"), str) for m in nv["modules"].values()))
        except (KeyError, TypeError, AttributeError):
            return False

    def versions(self):
        """[(module, version)] of what runs now: "default" first."""
        nv = self.nv
        out = [("default", nv["slots"][nv["active"]]["version"])]
        out += [(k, nv["modules"][k]["version"]) for k in sorted(nv["modules"])]
        return out

    def boot(self):
        """The bootloader: tries a pending slot once, rolls back if it cannot boot."""
        os.makedirs(self.state, exist_ok=True)
        for n in os.listdir(self.state):
            if n.endswith(".tmp"):
                remove_quiet(os.path.join(self.state, n))
        nv = read_json(self.nv_path)
        if not self.nv_ok(nv):
            nv = {"active": "a", "pending": None, "owed": [], "seq": 0,
                  "slots": {"a": {"version": self.a.version, "factory": True}, "b": None},
                  "modules": {}}
            say("flash: factory state, firmware %s in slot a", self.a.version)
        for name, ver in self.a.modules:
            if name not in nv["modules"]:
                nv["modules"][name] = {"version": ver, "file": None}
                say("flash: module %s factory version %s", name, ver)
        self.nv = nv
        self.save_nv()
        live = {m.get("file") for m in nv["modules"].values()}
        for n in os.listdir(self.state):  # a module file a power cut left unreferenced
            if n.startswith("mod-") and n not in live:
                remove_quiet(os.path.join(self.state, n))
                say("flash: removed unreferenced %s", n)
        say("boot: active slot %s, pending %s", nv["active"], nv["pending"] or "none")
        # Booting takes time; a power cut now leaves the pending slot pending.
        time.sleep(self.a.boot_ms / 1000.0)
        pend = nv["pending"]
        if pend:
            rec = nv["slots"].get(pend) or {}
            meta, why = self.slot_ok(pend)
            if meta is not None and not meta["boot_ok"]:
                meta, why = None, "the image does not boot"
            if meta is not None:
                nv["active"], nv["pending"] = pend, None
                self.save_nv()
                say("boot: slot %s version %s booted, confirmed", pend, rec.get("version"))
            else:
                old = nv["slots"][nv["active"]]["version"]
                nv["pending"] = None
                nv["owed"].append({"module": "default", "step": STEP_UPGRADE,
                                   "desc": "upgrade failed: version %s did not boot (%s), "
                                           "rolled back to %s" % (rec.get("version"), why, old)})
                self.save_nv()
                say("boot: slot %s version %s failed (%s); rolled back to slot %s version %s",
                    pend, rec.get("version"), why, nv["active"], old)
        meta, why = self.slot_ok(nv["active"])
        if meta is None:
            say("boot: WARNING active slot %s does not verify: %s", nv["active"], why)
        say("boot: running %s", ", ".join("%s %s" % mv for mv in self.versions()))

    def slot_ok(self, slot):
        rec = self.nv["slots"].get(slot)
        if not rec:
            return None, "slot %s is empty" % slot
        if rec.get("factory"):
            return {"version": rec["version"], "boot_ok": True}, None
        meta, why = image_check(self.slot_path(slot))
        if meta is None:
            return None, why
        if file_digest(self.slot_path(slot), "sha256") != rec.get("sha256"):
            return None, "slot %s differs from its record" % slot
        return meta, None

    def pay_owed(self):
        """After a rollback: the failure report, once connected (at least once)."""
        if not self.nv["owed"]:
            return
        while not self.connected.wait(0.5):
            pass
        for o in list(self.nv["owed"]):
            self.wait_sent(self.reporter.send(o["module"], o["step"], o["desc"], wait=True))
        self.nv["owed"] = []
        self.save_nv()

    # ------------------------------------------------------------ the upgrade

    def run_job(self, job):
        """Download, verify, install.  True when a reboot is due."""
        mod, v = job["module"], job["version"]
        self.high = 0
        try:
            if job["size"] > MAX_IMAGE:
                raise Fail(STEP_UPGRADE, "upgrade failed: %d bytes do not fit the %d-byte slot"
                           % (job["size"], MAX_IMAGE))
            if job["proto"] == "mqtt":
                self.download_mqtt(job)
            else:
                self.download_http(job)
            self.verify(job)
            # 100: the image is here and verified; what follows is the install.
            self.progress(job, 100, "downloaded and verified")
            if mod == "default":
                self.burn_firmware(job)
                self.wait_sent(self.reporter.last_info)
                return True
            self.install_module(job)
            return False
        except Exception as e:  # a Fail, or the flash itself failing: report, keep running
            f = e if isinstance(e, Fail) else Fail(STEP_UPGRADE, "upgrade failed: %r" % e)
            if not f.keep:
                try:
                    self.drop_breakpoint()
                except OSError:
                    pass
            say("ota: %s %s failed: step %d %s", mod, v, f.step, f.desc)
            # free before the report: the cloud may answer it with the task again at once
            with self.lock:
                self.busy = None
            self.wait_sent(self.reporter.send(mod, f.step, f.desc, wait=True))
            return False

    def progress(self, job, pct, desc, before=None):
        """A step 1..100 if the policy lets it out now; never one lower than the last."""
        if pct <= self.high or not self.reporter.may_send():
            return
        if before is not None:
            before()  # the breakpoint first: a resume never starts below a reported step
        if self.reporter.send(job["module"], pct, desc) is not None:
            self.high = pct

    # ---- HTTP

    def load_breakpoint(self, job):
        """The offset to resume from (0 without a breakpoint of this very firmware)."""
        bp = read_json(self.bp_path)
        if bp is not None and self.bug != "no-resume":
            off = bp.get("offset") if isinstance(bp, dict) else None
            try:
                have = os.path.getsize(self.part_path)
            except OSError:
                have = -1
            if (isinstance(bp, dict) and all(bp.get(k) == job[k] for k in
                                             ("module", "version", "size", "method", "sign"))
                    and is_int(off) and 0 <= off <= job["size"] and have >= off):
                with open(self.part_path, "r+b") as f:  # bytes past `offset` may be unsynced
                    f.truncate(off)
                    os.fsync(f.fileno())
                say("ota: breakpoint matches (%s %s), resuming at %d/%d", job["module"],
                    job["version"], off, job["size"])
                return off
            say("ota: breakpoint of other firmware (%s %s) dropped, starting at 0",
                bp.get("module") if isinstance(bp, dict) else "?",
                bp.get("version") if isinstance(bp, dict) else "?")
        with open(self.part_path, "wb") as f:
            os.fsync(f.fileno())
        self.save_breakpoint(job, 0)
        return 0

    def save_breakpoint(self, job, off):
        rec = {k: job[k] for k in ("module", "version", "size", "method", "sign", "url")}
        rec["offset"] = off
        write_atomic(self.bp_path, json.dumps(rec, sort_keys=True).encode() + b"\n")

    def drop_breakpoint(self):
        remove_quiet(self.bp_path)
        remove_quiet(self.part_path)
        fsync_dir(self.state)

    def persist(self, job, part):
        part.flush()
        os.fsync(part.fileno())
        self.save_breakpoint(job, part.tell())

    def download_http(self, job):
        size = job["size"]
        off = self.load_breakpoint(job)
        self.high = off * 100 // size
        fails, last_progress = 0, time.monotonic()
        with open(self.part_path, "r+b") as part:
            part.seek(off)
            while part.tell() < size:
                before = part.tell()
                try:
                    self.http_attempt(job, part)
                except Broken as e:
                    self.persist(job, part)
                    now = time.monotonic()
                    if part.tell() > before:
                        fails, last_progress = 0, now
                    fails += 1
                    say("ota: download broken at %d/%d (%s)", part.tell(), size, e)
                    if self.a.retry == "wait":
                        raise Fail(STEP_DOWNLOAD, "download failed at %d/%d: %s; breakpoint kept, "
                                   "waiting for the task again" % (part.tell(), size, e), keep=True)
                    if fails >= HTTP_TRIES or now - last_progress >= self.a.download_timeout:
                        raise Fail(STEP_DOWNLOAD, "download failed at %d/%d after %d attempt(s): "
                                   "%s; breakpoint kept" % (part.tell(), size, fails, e), keep=True)
                    time.sleep(min(0.3, self.a.download_timeout / 4))
                    if self.bug == "no-resume":
                        part.seek(0)
                        part.truncate(0)
                        self.high = 0
            self.persist(job, part)
        say("ota: downloaded %d bytes", size)

    def http_attempt(self, job, part):
        """One GET from the file position to the end.  Broken = retryable, Fail = final."""
        size, off = job["size"], part.tell()
        u = urllib.parse.urlsplit(job["url"])
        tmo = self.a.download_timeout
        try:
            port = u.port
        except ValueError:
            raise Fail(STEP_DOWNLOAD, "download failed: bad port in url")
        if not u.hostname:
            raise Fail(STEP_DOWNLOAD, "download failed: url without a host")
        path = (u.path or "/") + ("?" + u.query if u.query else "")
        if u.scheme.lower() == "https":
            # the chain and the host name verified: against --ca, else the system's CAs
            conn = http.client.HTTPSConnection(u.hostname, port, timeout=tmo,
                                               context=ssl.create_default_context(cafile=self.a.ca))
        else:
            conn = http.client.HTTPConnection(u.hostname, port, timeout=tmo)
        headers = {"User-Agent": "pyay/1", "Connection": "close"}
        if off > 0:
            headers["Range"] = "bytes=%d-" % off
        say("ota: GET %s from offset %d", job["url"], off)
        try:
            try:
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
            except (socket.timeout, TimeoutError):
                raise Broken("no answer in %gs" % tmo)
            except (OSError, http.client.HTTPException) as e:
                raise Broken("connect: %r" % e)
            st = resp.status
            if st in (401, 403, 404, 410):
                raise Fail(STEP_DOWNLOAD, "download failed: HTTP %d" % st)
            if st == 416 and off > 0:
                self.restart(job, part)
                raise Broken("HTTP 416 for offset %d: starting over at 0" % off)
            if st not in (200, 206):
                raise Broken("HTTP %d" % st)
            total = None
            if st == 206:
                start, total = self.content_range(resp.getheader("Content-Range", ""))
                if start != off:
                    raise Broken("Content-Range does not start at %d" % off)
            else:
                if off > 0:
                    say("ota: the server ignored Range: starting over at 0")
                    off = self.restart(job, part)
                clen = resp.getheader("Content-Length")
                if clen is not None and clen.strip().isdigit():
                    total = int(clen)
            if total is not None and total != size:
                raise Fail(STEP_VERIFY, "verify failed: the server's file has %d bytes, the "
                           "upgrade says %d" % (total, size))
            while off < size:
                try:
                    b = resp.read(min(CHUNK, size - off))
                except (socket.timeout, TimeoutError):
                    raise Broken("no byte for %gs at %d" % (tmo, off))
                except (OSError, http.client.HTTPException) as e:
                    raise Broken("read: %r" % e)
                if not b:
                    raise Broken("connection closed at %d/%d" % (off, size))
                part.write(b)
                off += len(b)
                self.progress(job, min(99, max(1, off * 100 // size)), "downloading",
                              before=lambda: self.persist(job, part))
        finally:
            conn.close()

    def restart(self, job, part):
        part.seek(0)
        part.truncate(0)
        self.persist(job, part)
        return 0

    @staticmethod
    def content_range(cr):
        """'bytes 100-199/1000' -> (100, 1000); total None for '*'; (-1, None) if bad."""
        try:
            unit, rest = cr.strip().split(" ", 1)
            rng, total = rest.split("/", 1)
            if unit != "bytes":
                return -1, None
            return int(rng.split("-", 1)[0]), (None if total.strip() == "*" else int(total))
        except ValueError:
            return -1, None

    # ---- MQTT blocks

    def download_mqtt(self, job):
        """The platform's MQTT download: contiguous blocks, each CRC-checked."""
        size = job["size"]
        bs = max(BLOCK_MIN, min(BLOCK_MAX, self.a.block_size))
        tmo = self.a.block_timeout_ms / 1000.0
        self.token_seq += 1
        token = "py%d_%d" % (job["stream"] % 100000, self.token_seq % 100000)
        remove_quiet(self.bp_path)  # an MQTT download starts at 0 (no HTTP breakpoint)
        while True:
            try:
                self.blocks.get_nowait()  # replies of an earlier download
            except queue.Empty:
                break
        self.block_active = True
        try:
            with open(self.part_path, "wb") as part:
                off = 0
                while off < size:
                    want = min(bs, size - off)
                    data = self.fetch_block(job, token, off, want, tmo)
                    part.write(data)
                    off += len(data)
                    self.progress(job, min(99, max(1, off * 100 // size)), "downloading")
                part.flush()
                os.fsync(part.fileno())
        finally:
            self.block_active = False
        say("ota: downloaded %d bytes in blocks of %d", size, bs)

    def fetch_block(self, job, token, off, want, tmo):
        """Asks block `off` until a good reply comes, at most BLOCK_TRIES times."""
        for attempt in range(1, BLOCK_TRIES + 1):
            self.publish(self.t_block, {
                "id": self.next_id(), "version": "1.0",
                "params": {"fileToken": token,
                           "fileInfo": {"streamId": job["stream"], "fileId": job["file"]},
                           "fileBlock": {"size": want, "offset": off}}}, qos=0)
            deadline = time.monotonic() + tmo
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    say("ota: no reply for block %d within %gs (ask %d of %d)", off, tmo,
                        attempt, BLOCK_TRIES)
                    break
                try:
                    raw = self.blocks.get(timeout=left)
                except queue.Empty:
                    continue
                data, why = self.parse_block(raw, job, token, off, want)
                if data is not None:
                    return data
                if why == "other":
                    continue  # another offset or file: not ours, wait on
                say("ota: bad reply for block %d (%s), asking it again (ask %d of %d)",
                    off, why, attempt, BLOCK_TRIES)
                break
        raise Fail(STEP_DOWNLOAD, "download failed: block at offset %d not received in %d asks"
                   % (off, BLOCK_TRIES))

    def parse_block(self, raw, job, token, off, want):
        """(data, None), (None, "other") for a reply that is not this block, (None, why)."""
        if len(raw) < 4:
            return None, "%d bytes, too short" % len(raw)
        hl = int.from_bytes(raw[:2], "big")
        if hl == 0 or 2 + hl + 2 > len(raw):
            return None, "header length %d does not fit %d bytes" % (hl, len(raw))
        try:
            h = json.loads(raw[2:2 + hl].decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None, "header is not JSON"
        if not isinstance(h, dict):
            return None, "header is not an object"
        d = h.get("data")
        if as_uint(h.get("code")) != 200 or not isinstance(d, dict):
            return None, "code %r" % (h.get("code"),)
        tok = d.get("fileToken")
        if tok is not None and tok != token:
            return None, "other"
        bsize, boff, flen = as_uint(d.get("bSize")), as_uint(d.get("bOffset")), d.get("fileLength")
        if boff is not None and boff != off:
            return None, "other"
        if bsize is None or boff is None:
            return None, "bSize or bOffset missing"
        if flen is not None and as_uint(flen) is None:
            return None, "fileLength %r is not a number" % (flen,)
        if flen is not None and as_uint(flen) != job["size"]:
            raise Fail(STEP_VERIFY, "verify failed: the stream's fileLength is %d, the upgrade "
                       "says %d" % (as_uint(flen), job["size"]))
        if bsize == 0 or off + bsize > job["size"]:
            return None, "bSize %d at offset %d of %d" % (bsize, off, job["size"])
        if len(raw) != 2 + hl + bsize + 2:
            return None, "%d bytes, header says %d" % (len(raw), 2 + hl + bsize + 2)
        data = raw[2 + hl:2 + hl + bsize]
        crc = int.from_bytes(raw[-2:], "little")
        if self.bug != "no-block-crc" and crc16_arc(data) != crc:
            return None, "CRC-16 %04x, the data's is %04x" % (crc, crc16_arc(data))
        return data, None

    # ---- verify, install

    def verify(self, job):
        try:
            have = os.path.getsize(self.part_path)
        except OSError as e:
            raise Fail(STEP_DOWNLOAD, "download failed: file missing: %s" % e)
        if have != job["size"]:
            raise Fail(STEP_VERIFY, "verify failed: %d bytes, the upgrade says %d"
                       % (have, job["size"]))
        if self.bug == "trust-md5":
            say("ota: digest not checked")
            return
        algo = "md5" if job["method"] == "MD5" else "sha256"
        got = file_digest(self.part_path, algo)
        want = {job["sign"]} | ({job["md5"]} if job["md5"] else set())
        if want != {got}:
            raise Fail(STEP_VERIFY, "verify failed: %s %s, the upgrade says %s"
                       % (job["method"], got, " / ".join(sorted(want))))
        say("ota: %s verified (%s)", job["method"], got)

    def check_image(self, job):
        meta, why = image_check(self.part_path)
        if meta is None:
            raise Fail(STEP_BURN, "burn failed: image rejected: %s" % why)
        if meta["version"] != job["version"]:
            raise Fail(STEP_BURN, "burn failed: the image is version %s, the upgrade says %s"
                       % (meta["version"], job["version"]))
        if not meta["burn_ok"]:
            raise Fail(STEP_BURN, "burn failed: the image refuses to be burnt")
        return meta

    def copy_slow(self, dst):
        """Copies the download to `dst` over --burn-ms, synced."""
        size = os.path.getsize(self.part_path)
        steps = max(1, min(50, size // 4096))
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
        digest = file_digest(dst, "sha256")
        if digest != file_digest(self.part_path, "sha256"):
            raise Fail(STEP_BURN, "burn failed: read-back of %s differs" % os.path.basename(dst))
        return digest

    def burn_firmware(self, job):
        """Writes the inactive slot (the table does not name it: a cut leaves all as it was),
        then one atomic table write makes it pending; the bootloader tries it."""
        self.check_image(job)
        slot = "b" if self.nv["active"] == "a" else "a"
        say("ota: burning %s into slot %s", job["version"], slot)
        digest = self.copy_slow(self.slot_path(slot))
        self.nv["slots"][slot] = {"version": job["version"], "sha256": digest,
                                  "size": job["size"]}
        self.nv["pending"] = slot
        self.save_nv()
        self.drop_breakpoint()
        say("ota: slot %s pending with %s; rebooting", slot, job["version"])
        if self.bug == "informs-before-reboot":
            self.wait_sent(self.publish(self.t_inform, {"id": self.next_id(), "params": {
                "version": job["version"], "module": "default"}}))

    def install_module(self, job):
        """A module is a file installed in place: new file, one atomic table write, no reboot."""
        meta = self.check_image(job)
        if not meta["boot_ok"]:
            raise Fail(STEP_BURN, "burn failed: module image fails its self-test")
        mod = job["module"]
        self.nv["seq"] += 1
        name = "mod-%s-%d.bin" % (hashlib.sha1(mod.encode()).hexdigest()[:12], self.nv["seq"])
        say("ota: installing module %s %s as %s", mod, job["version"], name)
        self.copy_slow(os.path.join(self.state, name))
        old = self.nv["modules"][mod].get("file")
        self.nv["modules"][mod] = {"version": job["version"], "file": name}
        self.save_nv()
        if old:
            remove_quiet(os.path.join(self.state, old))
        self.drop_breakpoint()
        say("ota: module %s now %s", mod, job["version"])
        # free before the inform: the cloud may answer it with the next task at once
        with self.lock:
            self.busy = None
        self.wait_sent(self.publish(self.t_inform, {"id": self.next_id(), "params": {
            "version": job["version"], "module": mod}}))

    # ------------------------------------------------------------ main loop

    def run(self):
        say("power on: %s.%s, state %s, retry %s, progress %s%s", self.a.product, self.a.device,
            self.state, self.a.retry, self.a.progress, ", bug " + self.bug if self.bug else "")
        while True:
            self.boot()
            self.mqtt_start()
            try:
                self.pay_owed()
                while True:
                    try:
                        job = self.jobs.get(timeout=0.5)
                    except queue.Empty:
                        continue
                    reboot = False
                    try:
                        reboot = self.run_job(job)
                    finally:
                        if not reboot:
                            with self.lock:
                                self.busy = None
                    if reboot:
                        break
            finally:
                self.mqtt_stop()
            with self.lock:  # busy until here: no task is taken for the old firmware
                self.busy = None
            while True:
                try:
                    self.jobs.get_nowait()
                except queue.Empty:
                    break
            say("reboot")


def on_sigterm(signum, frame):
    raise SystemExit(0)  # graceful power-off; flash writes are power-cut safe


def cmd_run(a):
    if mqtt is None:
        print("aliyun_device: paho-mqtt is not importable by %s; use /usr/bin/python3 "
              "(Debian python3-paho-mqtt)" % sys.executable, file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, on_sigterm)
    dev = Device(a)
    try:
        dev.run()
    except KeyboardInterrupt:
        pass
    except SystemExit:
        say("power off")
        raise
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="aliyun_device.py",
                                description="An independent Aliyun IoT (and HaaS) OTA device.")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run the device")
    r.add_argument("--host", required=True)
    r.add_argument("--secret", help="the device secret: sign the MQTT login as Aliyun's SDK does")
    r.add_argument("--ca", help="TLS: MQTT over TLS and https downloads, verified against this CA (PEM)")
    r.add_argument("--port", required=True, type=int)
    r.add_argument("--product", required=True)
    r.add_argument("--device", required=True)
    r.add_argument("--state", required=True, help="flash directory")
    r.add_argument("--version", default="1.0.0", help="factory firmware version (empty flash)")
    r.add_argument("--module", action="append", default=[], metavar="NAME=VER",
                   help="a module besides the firmware and its factory version (repeatable)")
    r.add_argument("--flavour", choices=("aliyun", "haas"), default="aliyun")
    r.add_argument("--boot-ms", type=int, default=100)
    r.add_argument("--burn-ms", type=int, default=300)
    r.add_argument("--download-timeout", type=float, default=5.0, help="seconds")
    r.add_argument("--block-size", type=int, default=16384)
    r.add_argument("--block-timeout-ms", type=int, default=2000)
    r.add_argument("--retry", choices=("self", "wait"), default="self")
    r.add_argument("--progress", default="every", help="every | rate:MS")
    r.add_argument("--bug", choices=BUGS, help="a field defect, for the self-tests")
    m = sub.add_parser("mkimage", help="write a firmware image")
    m.add_argument("--version", required=True)
    m.add_argument("--size", required=True, type=int)
    g = m.add_mutually_exclusive_group()
    g.add_argument("--fail-boot", action="store_true", help="burns, never boots")
    g.add_argument("--fail-burn", action="store_true", help="refused at burn (-4)")
    m.add_argument("-o", dest="output", required=True)
    a = p.parse_args(argv)
    if a.cmd == "mkimage":
        if not a.version or a.size <= 0:
            p.error("mkimage needs a non-empty --version and a positive --size")
        return cmd_mkimage(a)
    if a.boot_ms < 0 or a.burn_ms < 0 or not a.download_timeout > 0 or a.block_size <= 0 \
            or a.block_timeout_ms <= 0:
        p.error("--boot-ms/--burn-ms >= 0, --download-timeout, --block-size and "
                "--block-timeout-ms > 0")
    if not 0 < a.port < 65536:
        p.error("--port out of range")
    if a.progress == "every":
        a.rate_ms = None
    elif a.progress.startswith("rate:") and a.progress[5:].replace(".", "", 1).isdigit() \
            and float(a.progress[5:]) > 0:
        a.rate_ms = float(a.progress[5:])
    else:
        p.error("--progress is 'every' or 'rate:MS' with MS > 0")
    mods = []
    for spec in a.module:
        name, sep, ver = spec.partition("=")
        if not sep or not ok_name(name) or not ok_name(ver) or name == "default" \
                or name in (n for n, _ in mods):
            p.error("--module %r: want NAME=VERSION, NAME not 'default' and not repeated" % spec)
        mods.append((name, ver))
    a.modules = mods
    return cmd_run(a)


if __name__ == "__main__":
    sys.exit(main())
