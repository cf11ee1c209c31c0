"""Not a timing: the pictures of the local page, `docs/serve_page.png` (after a harmonization, playing, its
cursor on the score) and `docs/serve_rewrite.png` (after bars 2-3 of the alto and tenor were rewritten).

Serves the page in this process with a trained satb run (and, for the rewrite, a fill_lstm run folder), opens it
in headless Chromium (Debian's `chromium` and `chromium-driver`, through Selenium), types a tune, clicks
Harmonize, plays it, saves the window; then chooses bars 2-3 on the score, rewrites them and saves it again.

    python benchmarks/serve_screenshot.py            # the shipped models: the fill_lstm harmonizer rewrites too
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MELODY = "tinyNotation: 4/4 g2 g4 f# e d g a b2 b4 b b a g c' b2 a2 g2 a4 b a g e f# g1"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", default=None,
                    help="a satb run folder (default: serve's own choice, runs/latest else the shipped models)")
    ap.add_argument("--rewrite-run-dir", default=None,
                    help="a fill_lstm run folder for the rewrite (default: the harmonizing one, if it is one)")
    ap.add_argument("--output", default=str(ROOT / "docs" / "serve_page.png"), help="PNG after the harmonization")
    ap.add_argument("--rewrite-output", default=str(ROOT / "docs" / "serve_rewrite.png"), help="PNG after the rewrite")
    ap.add_argument("--seed", default="2", help="the harmonization's seed (default: 2)")
    args = ap.parse_args()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from music_lstm.app import serve
    from music_lstm.app.studio import TASKS, resolve_run_dir

    with tempfile.TemporaryDirectory() as tmp:
        runs = {task: resolve_run_dir(args.run_dir, task, lambda msg: None) for task in TASKS}
        studio = serve.Studio(runs, Path(tmp), rewrite_run=args.rewrite_run_dir)
        studio.load()
        serve.Handler.log = staticmethod(lambda msg: None)
        server = serve.make_server(studio, "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/?token={server.token}"
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1360,1180",
                    "--hide-scrollbars", "--force-device-scale-factor=1", "--autoplay-policy=no-user-gesture-required",
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
            options.add_argument(arg)
        driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
        try:
            driver.get(url)
            WebDriverWait(driver, 60).until(lambda d: "harmonize" in d.find_element(By.ID, "run").text)
            driver.execute_script("""const box = document.getElementById('melody'); box.value = arguments[0];
                box.dispatchEvent(new Event('input'));""", MELODY)  # the staff follows the text
            driver.find_element(By.ID, "h-seed").send_keys(args.seed)
            driver.find_element(By.ID, "harmonize").click()
            score = driver.find_element(By.ID, "score")
            WebDriverWait(driver, 300).until(lambda d: score.get_attribute("data-ready") == "1")
            driver.find_element(By.ID, "play").click()
            WebDriverWait(driver, 120).until(lambda d: float(score.get_attribute("data-cursor") or 0) > 5.2)
            driver.execute_script("window.scrollTo(0, 0)")
            driver.save_screenshot(args.output)
            driver.find_element(By.ID, "play").click()
            print(f"wrote {args.output}")
            if studio.info()["rewrite"] is None:  # this run rewrites bars (a fill_lstm one, as shipped)
                driver.execute_script("Versions.choose(2, 3)")
                driver.find_element(By.ID, "rewrite").click()
                WebDriverWait(driver, 300).until(lambda d: "version 2" in d.find_element(By.ID, "version-label").text
                                                 or d.find_element(By.ID, "error").is_displayed())
                WebDriverWait(driver, 300).until(lambda d: score.get_attribute("data-ready") == "1")
                driver.execute_script("Versions.choose(2, 3)")  # the bars rewritten, shown chosen
                time.sleep(0.3)
                driver.execute_script("window.scrollTo(0, 0)")
                driver.save_screenshot(args.rewrite_output)
                print(f"wrote {args.rewrite_output}")
        finally:
            driver.quit()
            server.shutdown()
            server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
