#!/usr/bin/env python3
"""Loads the page of a running `dato serve` in headless Chromium (Debian's `chromium`), fills the form, runs a
generation through it and saves a screenshot, driving the browser over the DevTools protocol.

    .build/debug/dato serve --port 7861 &
    /tmp/venv/bin/python tools/server/page_check.py --port 7861 --out page.png

Prints what the gallery shows and exits non-zero when no image appears.
"""
import argparse
import base64
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import requests
import websocket


class Tab:
    """One Chromium tab spoken to over the DevTools protocol."""

    def __init__(self, url):
        self.ws = websocket.create_connection(url, timeout=30)
        self.ids = itertools.count(1)

    def call(self, method, **params):
        i = next(self.ids)
        self.ws.send(json.dumps({"id": i, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == i:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def eval(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return r.get("result", {}).get("value")

    def wait(self, expression, seconds):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.eval(expression):
                return True
            time.sleep(0.1)
        return False


def start_chromium(port, profile):
    proc = subprocess.Popen(["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", f"--remote-debugging-port={port}",
                             f"--user-data-dir={profile}", "--window-size=1200,800", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            pages = requests.get(f"http://127.0.0.1:{port}/json", timeout=1).json()
            page = next(p for p in pages if p.get("type") == "page")
            return proc, page["webSocketDebuggerUrl"]
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("chromium did not start")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=7860)
    ap.add_argument("--out", default="page.png")
    ap.add_argument("--prompt", default="a green square on a yellow background")
    ap.add_argument("--accel", default="deepcache:2")
    ap.add_argument("--user", help="with --password: the login a browser sends once asked (dato serve --api-auth)")
    ap.add_argument("--password")
    a = ap.parse_args()
    profile = tempfile.mkdtemp(prefix="dato-chromium-")
    proc, ws_url = start_chromium(9333, profile)
    try:
        tab = Tab(ws_url)
        tab.call("Page.enable")
        if a.user:   # what the browser sends after its login dialog (headless Chromium shows none)
            token = base64.b64encode(f"{a.user}:{a.password}".encode()).decode()
            tab.call("Network.enable")
            tab.call("Network.setExtraHTTPHeaders", headers={"Authorization": f"Basic {token}"})
        tab.call("Page.navigate", url=f"http://{a.host}:{a.port}/")
        if not tab.wait("document.getElementById('sampler_name') && document.getElementById('sampler_name').options.length > 0", 20):
            print("FAIL the page did not load the sampler list")
            return 1
        tab.eval(f"""(() => {{
            document.getElementById('prompt').value = {json.dumps(a.prompt)};
            document.getElementById('seed').value = '7';
            document.getElementById('steps').value = '20';
            document.getElementById('sampler_name').value = 'DPM++ 2M';
            document.getElementById('accel').value = {json.dumps(a.accel)};
            document.getElementById('accel').dispatchEvent(new Event('input'));
        }})()""")
        tab.wait("document.getElementById('cost').textContent.includes('MACs')", 10)
        cost = tab.eval("document.getElementById('cost').textContent")
        tab.eval("document.getElementById('generate').click()")
        ok = tab.wait("document.querySelectorAll('#gallery figure img').length > 0", 60)
        caption = tab.eval("(document.querySelector('#gallery figcaption') || {}).textContent")
        status = tab.eval("document.getElementById('status').textContent")
        natural = tab.eval("(() => { const i = document.querySelector('#gallery img'); return i ? [i.naturalWidth, i.naturalHeight] : null })()")
        shot = tab.call("Page.captureScreenshot", format="png")
        with open(a.out, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        print(f"picker: {cost}")
        print(f"status: {status}")
        print(f"image: {natural}")
        print(f"caption:\n{caption}")
        print(f"screenshot: {a.out}")
        return 0 if ok and natural and natural[0] > 0 else 1
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
