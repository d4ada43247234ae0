#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# The station page in headless Chromium while four simulated boards flash: every tile goes from idle
# through erasing/writing to done without a reload, except 1-4's, whose board the simulator unplugs
# mid-write: that tile turns red with the job's message and stays red while the others finish. The
# console stays clean; a screenshot is saved.
# Usage: browser.py URL OPERATOR-TOKEN IMAGE SCREENSHOT PROFILE-PARENT-DIR
import json
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

url, token, image, screenshot, tmp = sys.argv[1:6]
ports = ["1-1", "1-2", "1-3", "1-4"]
PULLED = "1-4"  # test-web's runner script unplugs it at its tenth write request


def submit(port):
    boundary = "b0undary"
    with open(image, "rb") as f:
        data = f.read()
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"app.hex\"\r\n\r\n").encode()
    body += data + f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"options\"\r\n\r\n".encode()
    # the boards stay in their bootloader after the job, so their tiles stay to show "done"
    body += json.dumps({"port": port, "leave": False}).encode() + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(url + "/api/v1/jobs", data=body, method="POST", headers={
        "Authorization": "Bearer " + token, "Content-Type": "multipart/form-data; boundary=" + boundary})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 201, r.status
        return json.load(r)["id"]


def job(jid):
    with urllib.request.urlopen(f"{url}/api/v1/jobs/{jid}", timeout=30) as r:
        return json.load(r)


opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--window-size=1280,960", "--user-data-dir=" + tempfile.mkdtemp(dir=tmp)]:
    opts.add_argument(flag)
opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
try:
    driver.get(url + "/?kiosk")

    # read in one go: the page redraws its tiles on every event
    def states():
        return driver.execute_script(
            "return Object.fromEntries([...document.querySelectorAll('.tile')].map("
            "t => [t.dataset.port, t.querySelector('.state').textContent.toLowerCase()]))")

    def tile(port):
        return driver.execute_script(
            "const t = document.querySelector(`.tile[data-port='${arguments[0]}']`);"
            "return t && {cls: t.className, msg: (t.querySelector('.msg') || {}).textContent || ''};", port)

    deadline = time.time() + 20
    while time.time() < deadline and not all(states().get(p) == "idle" for p in ports):
        time.sleep(0.05)
    seen = {p: [states().get(p)] for p in ports}
    assert all(s[0] == "idle" for s in seen.values()), seen
    # an empty configured station shows as one
    assert states().get("1-9") == "waiting for board", states()

    ids = {p: submit(p) for p in ports}
    final = {p: "failed" if p == PULLED else "done" for p in ports}
    deadline = time.time() + 60
    shot = False
    while time.time() < deadline:
        now = states()
        for p in ports:
            word = (now.get(p) or "gone").split(" ")[0]
            if word != seen[p][-1]:
                seen[p].append(word)
        # the picture for the README: the red tile while the others still write
        if not shot and seen[PULLED][-1] == "failed" and any(s[-1] == "writing" for s in seen.values()):
            driver.save_screenshot(screenshot)
            shot = True
        if all(seen[p][-1] == final[p] for p in ports):
            break
        time.sleep(0.02)
    print("tile states seen:", seen)
    for p in ports:
        assert seen[p][-1] == final[p], seen
        assert any(w in ("erasing", "writing", "verifying", "queued") for w in seen[p]), seen
    assert any("writing" in s for s in seen.values()), seen
    # Red from the moment the job failed to now, through the others' last events: no tile of the
    # pulled board ever went away or back to another state.
    pulled = seen[PULLED]
    assert "gone" not in pulled and pulled[pulled.index("failed"):] == ["failed"], seen
    failed = job(ids[PULLED])
    assert failed["state"] == "failed" and "disconnected" in failed["error"], failed
    t = tile(PULLED)
    assert "s-failed" in t["cls"].split() and t["msg"] == failed["error"], (t, failed)
    if not shot:
        driver.save_screenshot(screenshot)
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
finally:
    driver.quit()
