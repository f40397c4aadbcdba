#!/usr/bin/env python3
"""Logging HTTP/1.1 pass-through proxy, a debugging aid for the client tests.

    logproxy.py LISTEN_PORT UPSTREAM_PORT LOGFILE

Listens on 127.0.0.1:LISTEN_PORT and relays every connection byte for byte to
127.0.0.1:UPSTREAM_PORT, writing each request's and response's start line and
headers (and body sizes) to LOGFILE. The Host header is passed on unchanged, so
Location headers the registry builds from it keep clients on the proxy.
Non-HTTP bytes (clients try TLS first on an insecure registry) are noted and
relayed as they are. run.sh starts it when CLIENTS_TRACE=FILE is set.
LOGPROXY_STRIP=Name,Name drops those response headers (Content-Length and
Transfer-Encoding only from HEAD responses), to see which headers clients
really need: e.g. LOGPROXY_STRIP=Docker-Content-Digest, or METHOD:Name for
the responses to one method only (LOGPROXY_STRIP=PUT:Docker-Content-Digest). LOGPROXY_NOMOUNT=1
turns cross-repository mount requests (POST .../uploads/?mount=&from=) into
plain upload starts, as if the registry did not support mounting.
LOGPROXY_RELATIVE_LOCATION=1 turns absolute Location headers into paths.
LOGPROXY_SILENT_TLS=1 answers a TLS handshake with silence (not relayed, not
closed), as a server does that waits for a request line that never comes.
Loopback only; it stops when killed.
"""
import itertools
import os
import re
import socket
import sys
import threading
import time

LOCK = threading.Lock()
LOG = None
IDS = itertools.count(1)
STRIP = os.environ.get("LOGPROXY_STRIP", "")
NOMOUNT = os.environ.get("LOGPROXY_NOMOUNT") == "1"
RELATIVE = os.environ.get("LOGPROXY_RELATIVE_LOCATION") == "1"
SILENT_TLS = os.environ.get("LOGPROXY_SILENT_TLS") == "1"


def log(block):
    with LOCK:
        LOG.write(block)
        LOG.flush()


class Conn:
    def __init__(self, src, dst):
        self.rf = src.makefile("rb")
        self.dst = dst

    def line(self):
        b = self.rf.readline(65536)
        if b:
            self.dst.sendall(b)
        return b

    def copy(self, n):
        while n > 0:
            b = self.rf.read(min(n, 65536))
            if not b:
                raise EOFError
            self.dst.sendall(b)
            n -= len(b)

    def rest(self):
        total = 0
        while True:
            b = self.rf.read1(65536)
            if not b:
                return total
            self.dst.sendall(b)
            total += len(b)

    def head(self, relay=True):
        """Reads header lines up to the blank line, relaying them unless
        relay is false; returns them parsed."""
        hdrs = []
        while True:
            b = self.rf.readline(65536)
            if not b:
                raise EOFError
            if relay:
                self.dst.sendall(b)
            s = b.decode("latin-1").rstrip("\r\n")
            if not s:
                return hdrs
            k, _, v = s.partition(":")
            hdrs.append((k.strip(), v.strip()))

    def body(self, hdrs):
        """Relays a body framed by the headers; returns a description."""
        te = get(hdrs, "transfer-encoding")
        if te and "chunked" in te.lower():
            total = chunks = 0
            while True:
                size = int(self.line().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.line() not in (b"\r\n", b"\n", b""):
                        pass
                    return "chunked %d bytes in %d chunks" % (total, chunks)
                self.copy(size + 2)  # data and CRLF
                total += size
                chunks += 1
        cl = get(hdrs, "content-length")
        if cl is not None:
            self.copy(int(cl))
            return "%s bytes" % cl
        return None


def get(hdrs, name):
    for k, v in hdrs:
        if k.lower() == name:
            return v
    return None


def fmt(cid, arrow, start, hdrs, body):
    t = time.strftime("%H:%M:%S")
    out = ["%s #%d %s %s\n" % (t, cid, arrow, start)]
    out += ["        %s: %s\n" % kv for kv in hdrs]
    if body:
        out.append("        (body: %s)\n" % body)
    return "".join(out)


def requests(cid, c, upstream, methods):
    try:
        while True:
            first = c.rf.peek(1)[:1]
            if not first:
                break
            if not first.isalpha():  # TLS ClientHello (0x16) or garbage
                log("%s #%d > non-HTTP data (first byte 0x%02x%s), relayed as is\n"
                    % (time.strftime("%H:%M:%S"), cid, first[0],
                       ": a TLS handshake" if first == b"\x16" else ""))
                if SILENT_TLS:  # like a server waiting for a request line
                    while c.rf.read1(65536):
                        pass
                    log("%s #%d > the client gave up on it\n" % (time.strftime("%H:%M:%S"), cid))
                else:
                    c.rest()
                break
            start = c.rf.readline(65536).decode("latin-1").rstrip("\r\n")
            if NOMOUNT and start.startswith("POST ") and "mount=" in start:
                start = re.sub(r"uploads/\?[^ ]*", "uploads/", start) + "   [proxy dropped mount]"
            # queued before the server can see the request: a response to
            # HEAD has no body, and the reader must know that
            methods.append(start.split(" ")[0])
            c.dst.sendall((start.split("   [")[0] + "\r\n").encode("latin-1"))
            hdrs = c.head()
            log(fmt(cid, ">", start, hdrs, c.body(hdrs)))
    except (EOFError, OSError, ValueError):
        pass
    finally:
        try:
            upstream.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def strip(hdrs, method):
    """Drops the response headers named in LOGPROXY_STRIP (comma-separated
    Name or METHOD:Name; framing headers only from HEAD responses, which have
    no body)."""
    names = set()
    for n in STRIP.split(","):
        m, _, h = n.strip().lower().rpartition(":")
        if h and (not m or m.upper() == method):
            names.add(h)
    if method != "HEAD":
        names -= {"content-length", "transfer-encoding"}
    kept = [(k, v) for k, v in hdrs if k.lower() not in names]
    changed = len(kept) != len(hdrs)
    if RELATIVE:
        for i, (k, v) in enumerate(kept):
            if k.lower() == "location" and "://" in v:
                kept[i] = (k, "/" + v.split("://", 1)[1].partition("/")[2])
                changed = True
    return kept, changed


def responses(cid, c, client, methods):
    try:
        while True:
            start = c.rf.readline(65536)
            if not start:
                break
            start = start.decode("latin-1").rstrip("\r\n")
            hdrs = c.head(relay=False)
            try:
                status = int(start.split(" ")[1])
            except (IndexError, ValueError):
                status = 0
            method = "?"
            if not 100 <= status < 200:
                method = methods.pop(0) if methods else "?"
            sent, stripped = strip(hdrs, method)
            client.sendall((start + "\r\n" + "".join(
                "%s: %s\r\n" % kv for kv in sent) + "\r\n").encode("latin-1"))
            if stripped:
                start += "   [proxy changed headers: stripped %r%s]" % (
                    STRIP, ", Location made relative" if RELATIVE else "")
            if 100 <= status < 200:
                log(fmt(cid, "<", start, sent, None))
                continue
            if method == "HEAD" or status in (204, 304):
                body = None
            else:
                body = c.body(hdrs)
                if body is None:
                    body = "%d bytes to EOF" % c.rest()
            log(fmt(cid, "<", start, sent, body))
    except (EOFError, OSError, ValueError):
        pass
    finally:
        try:
            client.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def serve(client, upstream_port):
    cid = next(IDS)
    try:
        up = socket.create_connection(("127.0.0.1", upstream_port), timeout=30)
        up.settimeout(None)
    except OSError as e:
        log("#%d upstream connect failed: %s\n" % (cid, e))
        client.close()
        return
    methods = []
    t1 = threading.Thread(target=requests, daemon=True,
                          args=(cid, Conn(client, up), up, methods))
    t2 = threading.Thread(target=responses, daemon=True,
                          args=(cid, Conn(up, client), client, methods))
    t1.start()
    t2.start()
    t1.join()
    t2.join()
    client.close()
    up.close()


def main():
    global LOG
    if len(sys.argv) != 4:
        sys.exit("usage: logproxy.py LISTEN_PORT UPSTREAM_PORT LOGFILE")
    listen, upstream = int(sys.argv[1]), int(sys.argv[2])
    LOG = open(sys.argv[3], "a", encoding="utf-8")
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", listen))
    srv.listen(64)
    while True:
        client, _ = srv.accept()
        threading.Thread(target=serve, args=(client, upstream), daemon=True).start()


if __name__ == "__main__":
    main()
