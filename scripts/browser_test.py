"""The page round trip of `vidtag serve` in headless Chromium, over the DevTools protocol (standard library only:
a minimal WebSocket client). Loads `/`, fills in a video, attaches JPEG frames when the model reads raw frames,
submits, waits for the answer's bars and reads the top-k back from the DOM; then opens the model card (`/model`)
and reads its per-class F1 bars. Screenshots of both pages go to --out. Exits non-zero on any failure.

Usage: browser_test.py --chromium BINARY --url http://127.0.0.1:PORT --out DIR [--frame JPEG ...]
"""
import argparse
import base64
import http.client
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse

p = argparse.ArgumentParser()
p.add_argument("--chromium", required=True)
p.add_argument("--url", required=True)
p.add_argument("--out", required=True)
p.add_argument("--frame", action="append", default=[])
p.add_argument("--timeout", type=float, default=60)
a = p.parse_args()


class DevTools:
    """One page target's DevTools WebSocket: send a command, wait for its answer (events are skipped)."""

    def __init__(self, ws_url):
        url = urllib.parse.urlparse(ws_url)
        self.sock = socket.create_connection((url.hostname, url.port), timeout=a.timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {url.path} HTTP/1.1\r\nHost: {url.hostname}:{url.port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise SystemExit(f"browser-test: the DevTools WebSocket refused the upgrade: {head[:200]!r}")
        self.next_id = 0

    def _exact(self, count):
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise SystemExit("browser-test: Chromium closed the DevTools connection")
            data += chunk
        return data

    def _send(self, text):
        payload = text.encode()
        header = bytes([0x81])
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        elif len(payload) < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", len(payload))
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", len(payload))
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _receive(self):
        message = b""
        while True:
            first, second = self._exact(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._exact(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._exact(8))[0]
            data = self._exact(length)
            if first & 0x0F == 0x8:
                raise SystemExit("browser-test: Chromium closed the DevTools connection")
            if first & 0x0F in (0x1, 0x2, 0x0):
                message += data
            if first & 0x80:
                return json.loads(message)

    def call(self, method, *, navigating=False, **params):
        """The command's result. With `navigating`, None when the page navigated away while the command ran
        (a click on a link, a page still loading): DevTools then answers with an error instead."""
        self.next_id += 1
        self._send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            answer = self._receive()
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    if navigating and "navigated or closed" in answer["error"].get("message", ""):
                        return None
                    raise SystemExit(f"browser-test: {method} failed: {answer['error']}")
                return answer["result"]

    def evaluate(self, expression, *, navigating=False):
        """The expression's value. With `navigating` (the page may be loading or leaving), None when the
        expression throws or the page navigated while it ran."""
        result = self.call("Runtime.evaluate", navigating=navigating, expression=expression, awaitPromise=True,
                           returnByValue=True)
        if result is None:
            return None
        if "exceptionDetails" in result:
            if navigating:
                return None
            raise SystemExit(f"browser-test: the page threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression, what):
        """Polls until `expression` is truthy. It may throw meanwhile: the page can still be loading (a new
        target answers before its document has the element the expression reads)."""
        deadline = time.time() + a.timeout
        while time.time() < deadline:
            value = self.evaluate(expression, navigating=True)
            if value:
                return value
            time.sleep(0.2)
        self.evaluate(expression)
        raise SystemExit(f"browser-test: timed out waiting for {what}; the page shows: "
                         f"{self.evaluate('document.body.innerText', navigating=True)!r:.600}")

    def screenshot(self, path):
        with open(path, "wb") as f:
            f.write(base64.b64decode(self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]))


def devtools_port(profile):
    deadline = time.time() + a.timeout
    path = os.path.join(profile, "DevToolsActivePort")
    while time.time() < deadline:
        if os.path.exists(path):
            lines = open(path).read().split()
            if lines:
                return int(lines[0])
        time.sleep(0.2)
    raise SystemExit("browser-test: Chromium did not open its DevTools port")


os.makedirs(a.out, exist_ok=True)
profile = tempfile.mkdtemp(prefix="vidtag-chromium-")
browser = subprocess.Popen([a.chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                            "--no-first-run", "--remote-debugging-port=0", f"--user-data-dir={profile}",
                            "--window-size=1000,1300", "about:blank"],
                           stdout=subprocess.DEVNULL, stderr=open(os.path.join(a.out, "chromium.log"), "w"))
try:
    port = devtools_port(profile)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=a.timeout)
    connection.request("PUT", "/json/new?" + urllib.parse.quote(a.url + "/", safe=":/"))
    target = json.loads(connection.getresponse().read())
    page = DevTools(target["webSocketDebuggerUrl"])
    page.call("Page.enable")
    page.call("DOM.enable")
    model = page.wait_for("(t => t.startsWith('model ') && t)(document.getElementById('model').textContent)", "the model line")
    print(f"browser-test: {model}")
    takes_jpeg = not page.evaluate("document.getElementById('frames').disabled")
    page.evaluate("""(() => {
      document.getElementById('title').value = '台风登陆 沿海地区停课';
      document.getElementById('asr').value = '气象台发布预警 请市民注意安全';
      document.getElementById('ocr').value = '新闻\\n台风';
      return true; })()""")
    if takes_jpeg and a.frame:
        root = page.call("DOM.getDocument")["root"]["nodeId"]
        node = page.call("DOM.querySelector", nodeId=root, selector="#frames")["nodeId"]
        page.call("DOM.setFileInputFiles", nodeId=node, files=[os.path.abspath(f) for f in a.frame])
    page.evaluate("document.getElementById('submit').click(), true")
    rows = page.wait_for("""(() => { const error = document.getElementById('error').textContent;
      if (error) return [{error}];
      const rows = Array.from(document.querySelectorAll('#level2 .row')).map(r =>
        ({id: r.querySelector('.id').textContent, p: r.querySelector('.p').textContent}));
      return rows.length ? rows : null; })()""", "the answer's bars")
    if "error" in rows[0]:
        raise SystemExit(f"browser-test: the page shows an error: {rows[0]['error']}")
    took = page.evaluate("document.getElementById('took').textContent")
    print(f"browser-test: top {len(rows)} from the DOM ({'with' if takes_jpeg and a.frame else 'without'} "
          f"{len(a.frame) if takes_jpeg else 0} JPEG frames, {took}): " + ", ".join(f"{r['id']} {r['p']}" for r in rows))
    page.screenshot(os.path.join(a.out, "classify.png"))
    page.evaluate("document.getElementById('cardLink').click(), true", navigating=True)
    bars = page.wait_for("""(() => { const n = document.querySelectorAll('#level2 .f1').length;
      const s = document.querySelectorAll('#scores tr').length; return n && s ? [n, s] : null; })()""", "the model card")
    curves = page.wait_for("(i => i ? (i.complete && i.naturalWidth > 0) : 'absent')(document.querySelector('#curves img'))",
                           "the curves image")
    print(f"browser-test: model card: {bars[0]} level-2 F1 bars, {bars[1] - 1} evaluations, curves {curves}")
    page.screenshot(os.path.join(a.out, "model-card.png"))
    print(f"browser-test: screenshots in {a.out}/classify.png and {a.out}/model-card.png")
finally:
    browser.terminate()
    try:
        browser.wait(timeout=10)
    except subprocess.TimeoutExpired:
        browser.kill()
