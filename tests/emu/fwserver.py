#!/usr/bin/env python3
"""A small loopback firmware server for the otadev end-to-end test.

Serves files of --root under path prefixes that choose a behaviour:
  /fw/NAME       plain, honours Range (206 + Content-Range)
  /slow/NAME     as /fw but sends at --rate bytes/s (so a test can cut power mid-download)
  /norange/NAME  ignores Range, always 200 with the whole file
  /stall/NAME    sends half the file, then sends nothing more (stall)
  /cut/NAME      honours Range but closes each response after 30% of the file (a weak network)
  /404/...       404 Not Found
  /403/...       403 Forbidden (an expired signed URL)
Every request is logged to --log as one line: "GET <path> range=<Range header or ->".
The bound port is written to --port-file once the server listens.
"""
import argparse
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--rate", type=int, default=200000)
    args = ap.parse_args()
    lock = threading.Lock()
    log = open(args.log, "a", buffering=1)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *a):
            pass

        def do_GET(self):
            rng = self.headers.get("Range")
            with lock:
                log.write("GET %s range=%s\n" % (self.path, rng or "-"))
            m = re.match(r"^/(fw|slow|norange|stall|cut|404|403)/([A-Za-z0-9._-]+)$", self.path)
            if not m:
                return self.fail(404)
            mode, name = m.group(1), m.group(2)
            if mode in ("404", "403"):
                return self.fail(int(mode))
            path = os.path.join(args.root, name)
            if not os.path.isfile(path):
                return self.fail(404)
            with open(path, "rb") as f:
                data = f.read()
            size, start, status = len(data), 0, 200
            if rng and mode != "norange":
                r = re.match(r"^bytes=(\d+)-(\d*)$", rng.strip())
                if not r:
                    return self.fail(416)
                start = int(r.group(1))
                if start >= size:
                    self.send_response(416)
                    self.send_header("Content-Range", "bytes */%d" % size)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
            body = data[start:]
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            if status == 206:
                self.send_header("Content-Range", "bytes %d-%d/%d" % (start, size - 1, size))
            self.end_headers()
            try:
                if mode == "slow":
                    step = max(1024, args.rate // 20)
                    for i in range(0, len(body), step):
                        self.wfile.write(body[i:i + step])
                        self.wfile.flush()
                        time.sleep(step / args.rate)
                elif mode == "cut":
                    self.wfile.write(body[: max(1, size * 3 // 10)])
                    self.wfile.flush()
                    self.close_connection = True
                elif mode == "stall":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    time.sleep(30)
                else:
                    self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def fail(self, code):
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
