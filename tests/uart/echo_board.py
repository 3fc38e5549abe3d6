#!/usr/bin/env python3
"""A process device for the uart API: its stdin/stdout are the harness's pty.
It prints a boot banner one byte at a time, asks for a login, echoes what it
reads, and answers "root" with a prompt; then it prints a line every 50 ms for
a while (a chatty console) and goes quiet."""
import os
import sys
import time


def say(text, byte_delay=0.0):
    data = text.encode()
    if byte_delay <= 0:
        os.write(1, data)
        return
    for i in range(len(data)):
        os.write(1, data[i:i + 1])
        time.sleep(byte_delay)


say("U-Boot 2024.01 (otahil)\r\n", 0.004)
say("login: ")
got = b""
while not got.endswith(b"\n"):
    ch = os.read(0, 1)
    if not ch:
        sys.exit(0)
    os.write(1, ch)  # echo, as a terminal does
    got += ch
if got.strip() == b"root":
    say("\r\n# ")
for i in range(8):
    time.sleep(0.05)
    say("tick %d\r\n" % i)
while True:
    time.sleep(60)
