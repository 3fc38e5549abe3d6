#!/usr/bin/python3
"""range_server: a small Range-capable HTTP file server for device tests.

Serves the files of --dir on 127.0.0.1 (--port 0 = any free port, written to
--port-file once listening).  The first path segment chooses a behaviour, so
a test picks a fault by the URL it puts in the update message (a query
string is ignored, and logged):

  /fw/NAME            the file, honouring "Range: bytes=N-"  (206 + Content-Range)
  /slow/NAME          the same at --rate bytes/s (time for a test to cut power)
  /cut/K/NAME         the same, but the connection closes once absolute offset K
                      is reached (a request starting at or after K is served whole)
  /every/K/NAME       the same, but every response closes after K body bytes
                      (a weak network: each resume gets K more)
  /stall/NAME         headers, then no byte ever (until the client gives up)
  /stall/K/NAME       the body up to absolute offset K, then no byte ever
  /status/CODE/NAME   answers CODE (e.g. 404, 403) with a short body

Every request is logged to --log (default stdout), one flushed line:
  "REQ <path> range=<Range header or -> status=<code>"

Used by tests/devices/test_qcloud_device.sh and tests/emu/e2e_qcloud.sh.
"""

import argparse
import http.server
import os
import socket
import sys
import threading
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root = "."
    rate = 102400
    log = sys.stdout
    lock = threading.Lock()

    def log_message(self, fmt, *args):  # our own log line instead
        pass

    def note(self, status):
        with self.lock:
            self.log.write("REQ %s range=%s status=%d\n"
                           % (self.path, self.headers.get("Range", "-"), status))
            self.log.flush()

    def plain(self, code, text, headers=()):
        body = (text + "\n").encode()
        self.note(code)
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def do_GET(self):
        parts = self.path.split("?", 1)[0].strip("/").split("/")
        mode, rest = parts[0], parts[1:]
        if mode == "status" and len(rest) == 2 and rest[0].isdigit():
            return self.plain(int(rest[0]), "status %s" % rest[0])
        k = None  # the offset of cut, stall; the byte count of every
        if mode in ("cut", "every", "stall") and len(rest) == 2 and rest[0].isdigit():
            k, rest = int(rest[0]), rest[1:]
        if mode not in ("fw", "slow", "cut", "every", "stall") or len(rest) != 1 \
                or (k is None and mode in ("cut", "every")):
            return self.plain(404, "no such route")
        name = os.path.basename(rest[0])
        try:
            with open(os.path.join(self.root, name), "rb") as f:
                data = f.read()
        except OSError:
            return self.plain(404, "no such file")
        start, status = 0, 200
        rng = self.headers.get("Range")
        if rng:
            spec = rng.strip()
            if not spec.startswith("bytes=") or not spec.endswith("-") \
                    or not spec[6:-1].isdigit():
                return self.plain(400, "only 'bytes=N-' ranges")
            start = int(spec[6:-1])
            if start >= len(data):
                return self.plain(416, "range not satisfiable",
                                  [("Content-Range", "bytes */%d" % len(data))])
            status = 206
        self.note(status)
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data) - start))
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d"
                             % (start, len(data) - 1, len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        end = len(data)
        if mode == "every":
            end = min(end, start + max(1, k))
        elif mode == "cut" and start < k < end:
            end = k
        elif mode == "stall":
            end = start if k is None else max(start, min(k, end))
        step = max(1024, self.rate // 25) if mode == "slow" else 65536
        off = start
        try:
            while off < end:
                n = min(step, end - off)
                self.wfile.write(data[off:off + n])
                self.wfile.flush()
                off += n
                if mode == "slow":
                    time.sleep(n / self.rate)
        except (BrokenPipeError, ConnectionResetError):
            return
        if mode == "stall":
            time.sleep(3600)  # the server thread is a daemon: dies with us
        if end < len(data):
            # A hard close mid-body: the client sees fewer bytes than promised.
            self.connection.shutdown(socket.SHUT_RDWR)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", help="request log file (default stdout)")
    p.add_argument("--rate", type=int, default=102400, help="bytes/s of /slow/")
    a = p.parse_args()
    Handler.root = os.path.abspath(a.dir)
    Handler.rate = max(1, a.rate)
    if a.log:
        Handler.log = open(a.log, "a", buffering=1)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.replace(tmp, a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
