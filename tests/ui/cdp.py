#!/usr/bin/env python3
"""cdp.py - drives a running headless Chromium through the DevTools protocol.

    cdp.py WS_URL OUT.json < STEPS

WS_URL is the browser's websocket (tests/ui/lib.sh reads it from Chromium's
DevToolsActivePort). STEPS has one step a line, split like a shell line
(shlex); blank lines and lines starting with # are ignored. Results go into
OUT.json, one object keyed by the names the steps give, so the shell test can
read them with jq after one run instead of starting Python per check.

Steps:
  context               a fresh browser context (its own cookies) and page:
                        each identity the test plays gets its own
  size W H              the viewport (a phone's when W < 600)
  bypass_csp on|off     turn the page's CSP off, so escaping alone is tested
  goto NAME URL         navigate and wait for load; NAME = the HTTP status of
                        the document (the last one, after redirects)
  fill SELECTOR VALUE   set an input's value
  submit NAME SELECTOR  submit a form (as a person pressing its button would)
                        and wait for the next document; NAME = its status
  hover                 fire mouseover/mouseenter/focus on every element, so
                        an injected onmouseover= or onfocus= would run (no
                        click: it would follow links)
  eval NAME EXPR        NAME = the JSON value of EXPR (awaited if a promise)
  shot FILE             a PNG of the viewport
  cookies NAME          NAME = the cookies of the context (with attributes)

Standard library only: a minimal RFC 6455 client (text frames, masked,
fragmented replies reassembled). A step that times out (15 s) or an
exception the page's evaluation throws ends the run with status 1 after
writing what was collected, and says which step failed.
"""
import base64
import json
import os
import shlex
import socket
import struct
import sys
import time
import urllib.parse

TIMEOUT = 15.0


class WebSocket:
    """One websocket connection to the browser endpoint."""

    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=TIMEOUT)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\n"
             "Upgrade: websocket\r\nConnection: Upgrade\r\n"
             f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError("websocket handshake: connection closed")
            head += chunk
        head, self.buf = head.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError("websocket handshake refused: " + head.decode(errors="replace"))

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise RuntimeError("websocket closed by the browser")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, text):
        data = text.encode()
        head = bytes([0x81])
        n = len(data)
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(head + mask + body)

    def recv(self):
        message = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            data = self._read(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            op = b0 & 0x0F
            if op == 0x8:
                raise RuntimeError("websocket closed by the browser")
            if op == 0x9:  # ping: answer, then go on reading
                continue
            message += data
            if b0 & 0x80:
                return message.decode()


class Browser:
    """The browser connection, one page session at a time (flat sessions)."""

    def __init__(self, url):
        self.ws = WebSocket(url)
        self.next_id = 0
        self.events = []
        self.session = None
        self.context = None
        self.target = None

    def call(self, method, params=None, session=True):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        self.ws.send(json.dumps(msg))
        deadline = time.time() + TIMEOUT
        while time.time() < deadline:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)
        raise RuntimeError(f"{method}: no reply in {TIMEOUT} s")

    def wait_event(self, method, after=0):
        """Waits for METHOD among the events from index AFTER on."""
        deadline = time.time() + TIMEOUT
        while True:
            for i in range(after, len(self.events)):
                if self.events[i]["method"] == method:
                    return i
            if time.time() > deadline:
                raise RuntimeError(f"no {method} in {TIMEOUT} s")
            reply = json.loads(self.ws.recv())
            if "method" in reply:
                self.events.append(reply)

    def close_page(self):
        if self.target:
            self.call("Target.closeTarget", {"targetId": self.target}, session=False)
        if self.context:
            self.call("Target.disposeBrowserContext", {"browserContextId": self.context},
                      session=False)
        self.session = self.context = self.target = None

    def new_context(self):
        self.close_page()
        self.context = self.call("Target.createBrowserContext", session=False)["browserContextId"]
        self.target = self.call("Target.createTarget",
                                {"url": "about:blank", "browserContextId": self.context},
                                session=False)["targetId"]
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": self.target, "flatten": True},
                                 session=False)["sessionId"]
        self.events = []
        self.call("Page.enable")
        self.call("Network.enable")
        self.call("Runtime.enable")

    def document_status(self, after):
        """Status of the last document response among events from AFTER on."""
        status = None
        for e in self.events[after:]:
            if e["method"] == "Network.responseReceived" and e["params"].get("type") == "Document":
                status = e["params"]["response"]["status"]
        return status

    def evaluate(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                           "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError(f"evaluate {expr!r}: {r['exceptionDetails'].get('text')} "
                               f"{r['exceptionDetails'].get('exception', {}).get('description', '')}")
        return r["result"].get("value")

    def navigate_and_wait(self, start):
        """After an action that navigates: waits for the new page's load."""
        self.wait_event("Page.loadEventFired", start)
        return self.document_status(start)


# Events a person's pointer and keyboard fire. No click: a click bubbles to
# a link or a form's button and navigates, which would end the probe.
HOVER_JS = """(() => {
  for (const e of document.querySelectorAll('*'))
    for (const t of ['mouseover', 'mouseenter', 'mousemove', 'mouseout', 'focus', 'focusin'])
      e.dispatchEvent(t.startsWith('focus') ? new FocusEvent(t, {bubbles: t === 'focusin'})
                                            : new MouseEvent(t, {bubbles: true}));
  return true;
})()"""


def run(browser, lines, results):
    for lineno, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            words = shlex.split(line)
            op, args = words[0], words[1:]
            if op == "context":
                browser.new_context()
            elif op == "size":
                w, h = int(args[0]), int(args[1])
                browser.call("Emulation.setDeviceMetricsOverride",
                             {"width": w, "height": h, "deviceScaleFactor": 1,
                              "mobile": w < 600})
            elif op == "bypass_csp":
                browser.call("Page.setBypassCSP", {"enabled": args[0] == "on"})
            elif op == "goto":
                start = len(browser.events)
                r = browser.call("Page.navigate", {"url": args[1]})
                if r.get("errorText"):
                    raise RuntimeError(f"navigate {args[1]}: {r['errorText']}")
                results[args[0]] = browser.navigate_and_wait(start)
            elif op == "fill":
                browser.evaluate(f"document.querySelector({json.dumps(args[0])}).value = "
                                 f"{json.dumps(args[1])}")
            elif op == "submit":
                start = len(browser.events)
                browser.evaluate(f"(() => {{ const f = document.querySelector({json.dumps(args[1])});"
                                 " if (!(f instanceof HTMLFormElement)) throw new Error('not a form');"
                                 " HTMLFormElement.prototype.requestSubmit.call(f); return 1; })()")
                results[args[0]] = browser.navigate_and_wait(start)
            elif op == "hover":
                browser.evaluate(HOVER_JS)
            elif op == "eval":
                results[args[0]] = browser.evaluate(args[1])
            elif op == "shot":
                png = browser.call("Page.captureScreenshot", {"format": "png"})["data"]
                with open(args[0], "wb") as f:
                    f.write(base64.b64decode(png))
            elif op == "cookies":
                results[args[0]] = browser.call("Network.getCookies")["cookies"]
            else:
                raise RuntimeError(f"unknown step {op}")
        except Exception as e:  # say which step, keep what was collected
            raise RuntimeError(f"step {lineno} ({line[:120]}): {e}") from None


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    results = {}
    rc = 0
    browser = Browser(sys.argv[1])
    try:
        run(browser, sys.stdin.read().splitlines(), results)
    except Exception as e:
        print(f"cdp.py: {e}", file=sys.stderr)
        rc = 1
    try:
        browser.close_page()
    except Exception:
        pass
    with open(sys.argv[2], "w") as f:
        json.dump(results, f)
    return rc


if __name__ == "__main__":
    sys.exit(main())
