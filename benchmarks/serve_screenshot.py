"""Not a timing: the picture of the local page in the README, `docs/serve_page.png`.

Starts `python -m music_lstm serve` on a free port with a trained satb run, opens the page in headless
Chromium (Debian's `chromium` and `chromium-driver`, through Selenium), types a melody, clicks Harmonize,
waits for the score and the audio player, and saves the window.

    python benchmarks/serve_screenshot.py --run-dir runs/latest --output docs/serve_page.png
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MELODY = "tinyNotation: 4/4 g2 g4 f# e d g a b2 b4 b b a g c' b2 a2 g2 a4 b a g e f# g1"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", default=None,
                    help="a satb run folder (default: serve's own choice, runs/latest else the shipped models)")
    ap.add_argument("--output", default=str(ROOT / "docs" / "serve_page.png"), help="PNG to write")
    ap.add_argument("--seed", default="2", help="the harmonization's seed (default: 2)")
    args = ap.parse_args()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    run_dir = [] if args.run_dir is None else ["--run-dir", args.run_dir]
    proc = subprocess.Popen([sys.executable, "-m", "music_lstm", "serve", "--port", "0", *run_dir],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        found = re.search(r"http://\S+/\?token=\S+", proc.stdout.readline())  # the page needs its token
        if found is None:  # serve said why on stderr and stopped
            print("serve_screenshot: the page did not start", file=sys.stderr)
            return 2
        url = found[0]
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1360,1480",
                    "--hide-scrollbars", "--force-device-scale-factor=1"):
            options.add_argument(arg)
        driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
        try:
            driver.get(url)
            WebDriverWait(driver, 60).until(lambda d: "harmonize" in d.find_element(By.ID, "run").text)  # its run folder shown
            box = driver.find_element(By.ID, "melody")
            box.clear()
            box.send_keys(MELODY)
            driver.find_element(By.ID, "h-seed").send_keys(args.seed)
            driver.find_element(By.ID, "harmonize").click()
            WebDriverWait(driver, 300).until(lambda d: d.execute_script(
                "const a = document.getElementById('player');"
                "return document.getElementById('result').classList.contains('on') && a.duration > 0 &&"
                " document.getElementById('roll').dataset.notes &&"
                " [...document.querySelectorAll('#score img')].every(i => i.complete && i.naturalWidth > 0)"))
            driver.save_screenshot(args.output)
        finally:
            driver.quit()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
