#!/usr/bin/env python3
"""A loopback HTTP power relay for the tests, Shelly- and Tasmota-flavoured.

    relay_server.py LOG    binds 127.0.0.1:0, prints the port, serves until killed

  GET  /relay/0?turn=on|off   Shelly: switches, answers {"ison": true|false}
  GET  /relay/0               Shelly: {"ison": ...}
  POST /cm  body "Power ON"   Tasmota: switches, answers {"POWER": "ON"|"OFF"}
  GET  /cm?cmnd=Power         Tasmota: {"POWER": ...}
  GET  /plain                 "on" or "off" as text
  GET  /broken                500 "relay on fire"
  GET  /slow                  answers after 5 s
  GET  /auth/relay/0?turn=... as /relay/0 but needs basic auth lab:secret
Every request is appended to LOG as "METHOD PATH BODY".
"""
import base64
import http.server
import json
import sys
import time
import urllib.parse

state = {"on": False}


class Relay(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, code, body, ctype="application/json"):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def record(self, body=""):
        with open(sys.argv[1], "a") as f:
            f.write("%s %s %s\n" % (self.command, self.path, body))

    def shelly(self, q):
        turn = q.get("turn", [None])[0]
        if turn in ("on", "off"):
            state["on"] = turn == "on"
        self.answer(200, json.dumps({"ison": state["on"]}))

    def do_GET(self):
        self.record()
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        if u.path == "/relay/0":
            return self.shelly(q)
        if u.path == "/auth/relay/0":
            want = "Basic " + base64.b64encode(b"lab:secret").decode()
            if self.headers.get("Authorization") != want:
                return self.answer(401, "who are you\n", "text/plain")
            return self.shelly(q)
        if u.path == "/cm":
            return self.answer(200, json.dumps({"POWER": "ON" if state["on"] else "OFF"}))
        if u.path == "/plain":
            return self.answer(200, "on\n" if state["on"] else "off\n", "text/plain")
        if u.path == "/broken":
            return self.answer(500, "relay on fire\n", "text/plain")
        if u.path == "/slow":
            time.sleep(5)
            return self.answer(200, "late\n", "text/plain")
        self.answer(404, "no such thing\n", "text/plain")

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode()
        self.record(body)
        if urllib.parse.urlparse(self.path).path == "/cm" and body in ("Power ON", "Power OFF"):
            state["on"] = body == "Power ON"
            return self.answer(200, json.dumps({"POWER": "ON" if state["on"] else "OFF"}))
        self.answer(400, "bad command\n", "text/plain")


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Relay)
print(srv.server_address[1], flush=True)
srv.serve_forever()
