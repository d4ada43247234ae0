#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# The station page in headless Chromium while four simulated boards flash: every tile goes from idle
# through erasing/writing to done without a reload, the console stays clean, a screenshot is saved.
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


opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--window-size=1280,720", "--user-data-dir=" + tempfile.mkdtemp(dir=tmp)]:
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

    deadline = time.time() + 20
    while time.time() < deadline and not all(states().get(p) == "idle" for p in ports):
        time.sleep(0.05)
    seen = {p: [states().get(p)] for p in ports}
    assert all(s[0] == "idle" for s in seen.values()), seen
    # an empty configured station shows as one
    assert states().get("1-9") == "waiting for board", states()

    for p in ports:
        submit(p)
    deadline = time.time() + 60
    shot = False
    while time.time() < deadline:
        now = states()
        for p in ports:
            word = (now.get(p) or "").split(" ")[0]
            if word and word != seen[p][-1]:
                seen[p].append(word)
        if not shot and any(w == "writing" for w in (s[-1] for s in seen.values())):
            driver.save_screenshot(screenshot)
            shot = True
        if all(s[-1] == "done" for s in seen.values()):
            break
        time.sleep(0.02)
    print("tile states seen:", seen)
    for p in ports:
        assert seen[p][-1] == "done", seen
        assert any(w in ("erasing", "writing", "verifying", "queued") for w in seen[p]), seen
    assert any("writing" in s for s in seen.values()), seen
    if not shot:
        driver.save_screenshot(screenshot)
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
finally:
    driver.quit()
