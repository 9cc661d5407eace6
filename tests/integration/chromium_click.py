#!/usr/bin/env python3
"""chromium_click.py: loads a page in headless Chromium, clicks an element
with a real mouse event through the DevTools protocol, waits for the next
page and prints what it shows. Screenshots of both pages are saved.

Only the Python standard library: the DevTools websocket is spoken here
(RFC 6455 client framing, text frames only), which is all the protocol needs.

usage: chromium_click.py URL ELEMENT_ID OUT_DIR [ACCEPT_LANGUAGE]
prints one JSON object: {"before": html, "after": html, "after_url": url}
exit 0 on success, 1 with a message on stderr otherwise.
"""
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request


class WebSocket:
    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=20)
        key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\n"
               "Upgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(req.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError("websocket handshake: connection closed")
            head += chunk
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status:
            raise RuntimeError(f"websocket handshake refused: {status!r}")
        self.buf = head.split(b"\r\n\r\n", 1)[1]
        self.next_id = 0

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("websocket closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send_text(self, text):
        data = text.encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        n = len(data)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(header + mask + masked)

    def recv_text(self):
        message = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(n)
            opcode = b0 & 0x0F
            if opcode == 0x8:
                raise RuntimeError("websocket closed by the browser")
            if opcode in (0x9, 0xA):
                continue  # ping/pong
            message += payload
            if b0 & 0x80:
                return message.decode()

    def call(self, method, params=None, deadline=20):
        self.next_id += 1
        my_id = self.next_id
        self.send_text(json.dumps({"id": my_id, "method": method, "params": params or {}}))
        end = time.time() + deadline
        while time.time() < end:
            msg = json.loads(self.recv_text())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)
        raise RuntimeError(f"{method}: no answer")

    def wait_event(self, name, deadline=20):
        end = time.time() + deadline
        while time.time() < end:
            for i, e in enumerate(self.events):
                if e.get("method") == name:
                    del self.events[i]
                    return e
            self.events.append(json.loads(self.recv_text()))
        raise RuntimeError(f"no {name} event within {deadline}s")


def main():
    url, element_id, out_dir = sys.argv[1], sys.argv[2], sys.argv[3]
    accept_language = sys.argv[4] if len(sys.argv) > 4 else ""
    profile = tempfile.mkdtemp(prefix="postino-chromium-")
    args = ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
            "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
            "--window-size=800,600", "about:blank"]
    if accept_language:
        args.insert(1, f"--accept-lang={accept_language}")
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        port_file = os.path.join(profile, "DevToolsActivePort")
        end = time.time() + 30
        while not os.path.exists(port_file) or os.path.getsize(port_file) == 0:
            if time.time() > end or proc.poll() is not None:
                raise RuntimeError("chromium did not start: " +
                                   proc.stderr.read().decode(errors="replace")[-2000:])
            time.sleep(0.1)
        port = int(open(port_file).read().split()[0])
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        page = next(t for t in targets if t.get("type") == "page")
        ws = WebSocket(page["webSocketDebuggerUrl"])
        ws.events = []
        ws.call("Page.enable")
        ws.call("Runtime.enable")
        ws.call("Page.navigate", {"url": url})
        ws.wait_event("Page.loadEventFired")
        before = ws.call("Runtime.evaluate",
                         {"expression": "document.documentElement.outerHTML",
                          "returnByValue": True})["result"]["value"]
        shot = ws.call("Page.captureScreenshot", {"format": "png"})["data"]
        open(os.path.join(out_dir, "unsubscribe-confirm.png"), "wb").write(base64.b64decode(shot))
        box = ws.call("Runtime.evaluate", {
            "expression": f"JSON.stringify(document.getElementById({json.dumps(element_id)})"
                          ".getBoundingClientRect())",
            "returnByValue": True})["result"]
        if box.get("type") != "string":
            raise RuntimeError(f"element #{element_id} not found on the page")
        r = json.loads(box["value"])
        x, y = r["x"] + r["width"] / 2, r["y"] + r["height"] / 2
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            ws.call("Input.dispatchMouseEvent",
                    {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})
        ws.wait_event("Page.loadEventFired")
        after = ws.call("Runtime.evaluate",
                        {"expression": "document.documentElement.outerHTML",
                         "returnByValue": True})["result"]["value"]
        after_url = ws.call("Runtime.evaluate", {"expression": "location.href",
                                                  "returnByValue": True})["result"]["value"]
        shot = ws.call("Page.captureScreenshot", {"format": "png"})["data"]
        open(os.path.join(out_dir, "unsubscribe-done.png"), "wb").write(base64.b64decode(shot))
        print(json.dumps({"before": before, "after": after, "after_url": after_url}))
        return 0
    except Exception as e:  # reported to the test
        print(f"chromium_click: {e}", file=sys.stderr)
        return 1
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
