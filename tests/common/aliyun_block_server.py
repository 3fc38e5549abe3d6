#!/usr/bin/python3
"""aliyun_block_server: the Aliyun platform's MQTT file download, for device tests.

Answers block requests on /sys/+/+/thing/file/download with the platform's
binary download_reply (2-byte big-endian length of a JSON header, the header
{"id","code":200,"msg","data":{"fileToken","fileLength","bSize","bOffset"}},
the bytes, their CRC-16/ARC as 2 bytes little endian).  Stream N is the file
stream-N.bin of --dir.  Faults, each once per (stream, offset):
  --drop OFFSET     the first request for OFFSET gets no reply
  --corrupt OFFSET  the first reply for OFFSET carries a wrong CRC
Every request and fault is logged to --log, one flushed line:
  "REQ dn=<device> stream=<id> offset=<n> size=<n> token=<t>", "DROP ...", "CORRUPT ..."
Used by tests/devices/test_aliyun_device.sh.
"""

import argparse
import json
import os
import sys
import threading

import paho.mqtt.client as mqtt


def crc16_arc(data):
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--ready", required=True, help="file written once subscribed")
    p.add_argument("--drop", type=int, action="append", default=[])
    p.add_argument("--corrupt", type=int, action="append", default=[])
    a = p.parse_args()
    log = open(a.log, "a", buffering=1)
    done = set()
    lock = threading.Lock()

    def once(kind, stream, off, wanted):
        with lock:
            if off in wanted and (kind, stream, off) not in done:
                done.add((kind, stream, off))
                return True
            return False

    def on_connect(c, u, f, rc):
        c.subscribe("/sys/+/+/thing/file/download", qos=0)

    def on_subscribe(c, u, mid, q):
        with open(a.ready + ".tmp", "w") as f:
            f.write("ready\n")
        os.replace(a.ready + ".tmp", a.ready)

    def on_message(c, u, msg):
        try:
            parts = msg.topic.split("/")
            req = json.loads(msg.payload.decode("utf-8"))
            prm = req["params"]
            stream = int(prm["fileInfo"]["streamId"])
            off, size = int(prm["fileBlock"]["offset"]), int(prm["fileBlock"]["size"])
            token = prm.get("fileToken")
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
            log.write("BAD %s %r\n" % (msg.topic, e))
            return
        what = "dn=%s stream=%d offset=%d size=%d token=%s" % (parts[3], stream, off, size, token)
        log.write("REQ %s\n" % what)
        if once("drop", stream, off, a.drop):
            log.write("DROP %s\n" % what)
            return
        try:
            with open(os.path.join(a.dir, "stream-%d.bin" % stream), "rb") as f:
                body = f.read()
        except OSError:
            body = None
        if body is None:
            head = {"id": req.get("id"), "code": 404, "msg": "no such stream", "data": {}}
            data = b""
        else:
            data = body[off:off + size]
            head = {"id": req.get("id"), "code": 200, "msg": "success",
                    "data": {"fileToken": token, "fileLength": len(body),
                             "bSize": len(data), "bOffset": off}}
        hj = json.dumps(head).encode()
        crc = crc16_arc(data)
        if once("corrupt", stream, off, a.corrupt):
            crc ^= 0x5A5A
            log.write("CORRUPT %s\n" % what)
        topic = "/".join(parts[:-1] + ["download_reply"])
        c.publish(topic, len(hj).to_bytes(2, "big") + hj + data + crc.to_bytes(2, "little"))

    c = mqtt.Client(client_id="block-server-%d" % os.getpid())
    c.on_connect, c.on_subscribe, c.on_message = on_connect, on_subscribe, on_message
    c.connect("127.0.0.1", a.port, keepalive=30)
    try:
        c.loop_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
