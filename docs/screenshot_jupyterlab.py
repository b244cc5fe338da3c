"""Screenshot of notebooks/04_live_agent.ipynb run in JupyterLab, in headless Debian Chromium.

Usage (from the repo root, after `make setup browser`):
    .venv/bin/python docs/screenshot_jupyterlab.py docs/live_agent_jupyterlab.png

Starts JupyterLab on 127.0.0.1 (quick mode: the notebook answers a bundled clip), opens the
notebook, runs all cells, waits for them to finish and saves a screenshot. Nothing is saved
into the notebook.
"""
import os, subprocess, sys, time, socket, urllib.request
from pathlib import Path
from playwright.sync_api import sync_playwright

root = Path(__file__).resolve().parents[1]
port = 8899
env = dict(os.environ, VOICELAB_QUICK="1")
lab = subprocess.Popen([str(root / ".venv/bin/jupyter"), "lab", "--no-browser", f"--port={port}",
                        "--ServerApp.ip=127.0.0.1", "--allow-root", "--IdentityProvider.token=", "--ServerApp.password=",
                        "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={root}"],
                       env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
try:
    for _ in range(60):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/lab", timeout=2); break
        except Exception:
            time.sleep(1)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                               args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                     "--disable-component-update", "--no-first-run",
                                     "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"])
        page = b.new_page(viewport={"width": 1280, "height": 1500})
        page.goto(f"http://127.0.0.1:{port}/lab/tree/notebooks/04_live_agent.ipynb")
        page.wait_for_selector(".jp-Notebook", timeout=60_000)
        time.sleep(5)
        page.keyboard.press("Escape")
        page.click(".jp-Notebook")
        # Run > Run All Cells
        page.get_by_text("Run", exact=True).first.click()
        page.get_by_text("Run All Cells", exact=True).first.click()
        t0 = time.time()
        while time.time() - t0 < 240:
            time.sleep(3)
            busy = page.evaluate("() => document.querySelectorAll('.jp-InputArea-prompt').length ? [...document.querySelectorAll('.jp-InputArea-prompt')].some(e => e.textContent.includes('*')) : true")
            if not busy and time.time() - t0 > 10:
                break
        time.sleep(3)
        page.screenshot(path=sys.argv[1], full_page=False)
        b.close()
finally:
    lab.terminate(); lab.wait(10)
