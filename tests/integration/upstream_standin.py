#!/usr/bin/env python3
"""upstream_standin.py - a small upstream registry for the cache's tests:
it serves blobs badly on purpose, in ways a real registry on the internet
may, to check how the pull-through cache copes.

  python3 upstream_standin.py BLOBDIR LOGFILE

BLOBDIR holds the blobs, one file per digest named by its hex. Listens on
127.0.0.1, port 0 (any), and on a second port playing blob storage (where
redirects go); prints "PORT STORAGE_PORT" on one line, then serves until
killed. The first path component of a repository says how it behaves:

  plain/...          GET and HEAD of blobs, as they should be
  cut/...            the first GET of a blob sends half of it, then drops
                     the connection; a GET with Range gets a proper 206
  norange/...        the same cut, but Range is ignored: always a whole 200
  slowhead/...       HEAD of a blob answers after 4 s (GET at once)
  slow/...           GET of a blob sends it in 64 KiB pieces, 0.1 s apart
                     (a fetch that is still running seconds later)
  redirect-basic/... wants HTTP Basic, then redirects to blob storage on
                     the other port (another origin)
  redirect-bearer/.. wants a Bearer token from /token, then redirects
  liar/...           manifests whose bytes do not match their digest: by
                     digest, other bytes (with a header true to them); by
                     tag, a Docker-Content-Digest naming other bytes
Every request is logged to LOGFILE as one line:
  upstream|storage METHOD PATH range=RANGE|- auth=SCHEME|-
"""
import hashlib
import os
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BLOBDIR, LOGFILE = sys.argv[1], sys.argv[2]
LOCK = threading.Lock()
SEEN = {}  # path -> GETs so far
PORTS = {}
TOKEN = "standin-token"
BLOB_RE = re.compile(r"^/v2/(.+)/blobs/sha256:([0-9a-f]{64})$")
MANIFEST_RE = re.compile(r"^/v2/liar/(.+)/manifests/(.+)$")
LIE = (b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
       b'"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":'
       b'"sha256:' + b"0" * 64 + b'","size":2},"layers":[]}')


def log(line):
    with LOCK, open(LOGFILE, "a") as f:
        f.write(line + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    role = "upstream"

    def log_message(self, fmt, *args):
        pass

    def record(self):
        auth = self.headers.get("Authorization")
        log("%s %s %s range=%s auth=%s" % (self.role, self.command, self.path,
                                            self.headers.get("Range") or "-",
                                            auth.split(" ")[0] if auth else "-"))

    def reply(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def blob(self, hexd):
        try:
            with open(os.path.join(BLOBDIR, hexd), "rb") as f:
                return f.read()
        except OSError:
            return None

    def send_blob(self, data, honour_range=True):
        rng = self.headers.get("Range")
        m = re.match(r"^bytes=(\d+)-$", rng or "")
        if m and honour_range:
            start = int(m.group(1))
            body = data[start:]
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        else:
            body = data
            self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def cut(self, data):
        """Announces the whole blob, sends half, drops the connection."""
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def slow(self, data):
        """The whole blob, a piece at a time."""
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            for i in range(0, len(data), 65536):
                self.wfile.write(data[i:i + 65536])
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            self.close_connection = True  # the cache gave up: nothing more to send

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self.record()
        if self.role == "storage":
            data = self.blob(self.path.rsplit("/", 1)[-1])
            return self.reply(404) if data is None else self.send_blob(data)
        if self.path == "/v2/" or self.path == "/v2":
            return self.reply(200, b"{}", [("Content-Type", "application/json")])
        if self.path.startswith("/token"):
            return self.reply(200, b'{"token":"%s","expires_in":300}' % TOKEN.encode(),
                              [("Content-Type", "application/json")])
        m = MANIFEST_RE.match(self.path)
        if m:
            ref = m.group(2)
            # by digest: a header true to the bytes, which are not the ones
            # asked for; by tag: a header naming other bytes
            claim = ("sha256:" + hashlib.sha256(LIE).hexdigest() if ref.startswith("sha256:")
                     else "sha256:" + "1" * 64)
            return self.reply(200, LIE if self.command == "GET" else b"", [
                ("Content-Type", "application/vnd.oci.image.manifest.v1+json"),
                ("Docker-Content-Digest", claim)])
        m = BLOB_RE.match(self.path)
        if not m:
            return self.reply(404, b'{"errors":[{"code":"NAME_UNKNOWN"}]}')
        repo, hexd = m.group(1), m.group(2)
        kind = repo.split("/")[0]
        data = self.blob(hexd)
        if data is None:
            return self.reply(404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}')
        with LOCK:
            n = SEEN.get((self.command, self.path), 0)
            SEEN[(self.command, self.path)] = n + 1
        auth = self.headers.get("Authorization") or ""
        if kind == "redirect-basic":
            if not auth.startswith("Basic "):
                return self.reply(401, b"", [("WWW-Authenticate", 'Basic realm="standin"')])
        if kind == "redirect-bearer":
            if auth != "Bearer " + TOKEN:
                return self.reply(401, b"", [(
                    "WWW-Authenticate",
                    'Bearer realm="http://127.0.0.1:%d/token",service="standin",scope="repository:%s:pull"'
                    % (PORTS["upstream"], repo))])
        if kind.startswith("redirect-"):
            return self.reply(307, b"", [("Location", "http://localhost:%d/blob/%s"
                                          % (PORTS["storage"], hexd))])
        if kind == "slowhead" and self.command == "HEAD":
            time.sleep(4)
        if kind in ("cut", "norange") and self.command == "GET" and n == 0:
            return self.cut(data)
        if kind == "slow" and self.command == "GET":
            return self.slow(data)
        self.send_blob(data, honour_range=(kind != "norange"))


class Storage(Handler):
    role = "storage"


def main():
    up = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    st = ThreadingHTTPServer(("127.0.0.1", 0), Storage)
    up.daemon_threads = st.daemon_threads = True
    PORTS["upstream"], PORTS["storage"] = up.server_address[1], st.server_address[1]
    threading.Thread(target=st.serve_forever, daemon=True).start()
    print(PORTS["upstream"], PORTS["storage"], flush=True)
    up.serve_forever()


if __name__ == "__main__":
    main()
