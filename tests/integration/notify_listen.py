#!/usr/bin/env python3
"""notify_listen.py ADDRESS OUT: stands in for systemd's notification socket.

Binds an AF_UNIX SOCK_DGRAM socket at ADDRESS (a path, or @name for the
abstract namespace, as $NOTIFY_SOCKET spells it) and appends each datagram
received to OUT as one line: "SECONDS.MS<TAB>message" (newlines inside a
message become '|'). Writes OUT.ready once bound. Runs until SIGTERM.
"""
import os
import signal
import socket
import sys
import time

addr, out = sys.argv[1], sys.argv[2]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind("\0" + addr[1:] if addr.startswith("@") else addr)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
with open(out + ".ready", "w") as f:
    f.write(str(os.getpid()))
while True:
    msg = sock.recv(4096).decode("utf-8", "replace").replace("\n", "|")
    with open(out, "a") as f:
        f.write("%.3f\t%s\n" % (time.time(), msg))
