"""The page in a real browser: headless Chromium, driven by Selenium, on `python -m music_lstm serve` with a
tiny satb run. A melody is typed and harmonized: the progress shows while it works, then the engraved score
(SVG), the piano roll drawn from the MIDI file (every note), an <audio> player whose WAV loads and plays,
and downloads of MIDI, MusicXML and WAV that fetch. A bad melody shows one line on the page and the next
harmonization still works; an uploaded MIDI melody is harmonized; Compose shows a chorale.

It needs Debian's `chromium` and `chromium-driver` (nothing downloads a browser or a driver) and the
`selenium` package; without them it is skipped, unless MUSIC_LSTM_REQUIRE_BROWSER is set (CI sets it),
when it fails. The audio checks need FluidSynth and a SoundFont as in test_render.py.
"""

import os
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from music_lstm.io import midi_read

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
TUNE = "tinyNotation: 4/4 c'4 d' e' f' g'2 e'2 c'1"
WAIT = 180  # seconds the browser waits for an answer at most (a bound against a hang, not a timing check)

pytestmark = pytest.mark.slow


def _browser_or_skip():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    if missing:
        if os.environ.get("MUSIC_LSTM_REQUIRE_BROWSER"):
            pytest.fail(f"MUSIC_LSTM_REQUIRE_BROWSER is set but {', '.join(missing)} is missing")
        pytest.skip(f"{', '.join(missing)} not installed "
                    "(apt-get install chromium chromium-driver; pip install selenium)")


def _audio_expected() -> bool:
    from music_lstm.io.render import audio_problem

    problem = audio_problem()
    if problem and os.environ.get("MUSIC_LSTM_REQUIRE_AUDIO"):
        pytest.fail(f"MUSIC_LSTM_REQUIRE_AUDIO is set but {problem}")
    return problem is None


@pytest.fixture(scope="module")
def server(tiny_satb_run, tmp_path_factory):
    """`python -m music_lstm serve` on a free port (--port 0); yields its address."""
    _browser_or_skip()
    out = tmp_path_factory.mktemp("served")
    log = out.parent / "serve_stderr.txt"  # a file, not a pipe: nothing read from a pipe could stall the server
    with open(log, "w") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "music_lstm", "serve", "--port", "0", "--run-dir",
                                 str(tiny_satb_run), "--output-dir", str(out / "files")],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        line = proc.stdout.readline()  # "serving on http://127.0.0.1:PORT/?token=T (...)", once it listens
        match = re.search(r"http://127\.0\.0\.1:\d+/\?token=[\w-]+", line)
        assert match, f"no address in {line!r}; stderr: {log.read_text()}"
        yield match[0]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,1000",
                "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _fetch(url: str) -> bytes:  # a file's URL on the page carries the token
    with urllib.request.urlopen(url, timeout=60) as answer:
        assert answer.status == 200, url
        return answer.read()


def _harmonize(browser, melody: str):
    """Type `melody`, click Harmonize, wait for the result or the error; returns whether the progress showed."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, WAIT).until(lambda d: "run folder" in d.find_element(By.ID, "run").text)
    box = browser.find_element(By.ID, "melody")
    box.clear()
    box.send_keys(melody)
    # The progress may come and go between two polls: a watcher set up before the click records it.
    browser.execute_script("""
        window.progressShown = false;
        const status = document.getElementById('status');
        new MutationObserver(() => { if (status.classList.contains('on')) window.progressShown = true; })
            .observe(status, {attributes: true});""")
    browser.find_element(By.ID, "harmonize").click()
    WebDriverWait(browser, WAIT).until(lambda d: not d.find_element(By.ID, "harmonize").get_property("disabled")
                                       and d.execute_script("return window.progressShown"))
    return browser.execute_script("return window.progressShown")


def test_the_page_keeps_its_token_and_sends_only_the_settings_changed(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server)
    WebDriverWait(browser, WAIT).until(lambda d: "run folder" in d.find_element(By.ID, "run").text)
    assert "token" not in browser.current_url  # out of the address bar, kept for the tab
    browser.refresh()  # a reload still has it
    WebDriverWait(browser, WAIT).until(lambda d: "run folder" in d.find_element(By.ID, "run").text)
    browser.execute_script("""
        window.sent = [];
        const real = window.fetch;
        window.fetch = (url, options) => { if (options && options.body) window.sent.push(JSON.parse(options.body));
                                           return real(url, options); };""")
    browser.find_element(By.ID, "compose").click()
    WebDriverWait(browser, WAIT).until(lambda d: d.execute_script("return window.sent.length") == 1)
    assert browser.execute_script("return window.sent[0]") == {}  # the run's own defaults apply
    WebDriverWait(browser, WAIT).until(lambda d: not d.find_element(By.ID, "compose").get_property("disabled"))
    box = browser.find_element(By.ID, "temperature")
    box.clear()
    box.send_keys("0.9")
    browser.find_element(By.ID, "compose").click()
    WebDriverWait(browser, WAIT).until(lambda d: d.execute_script("return window.sent.length") == 2)
    assert browser.execute_script("return window.sent[1]") == {"temperature": "0.9"}
    WebDriverWait(browser, WAIT).until(lambda d: not d.find_element(By.ID, "compose").get_property("disabled"))
    bare = server.split("?")[0]
    browser.execute_script("sessionStorage.clear()")
    browser.get(bare)  # without its token the page says where to find it, and nothing is answered
    WebDriverWait(browser, WAIT).until(lambda d: d.find_element(By.ID, "error").is_displayed())
    assert "token" in browser.find_element(By.ID, "error").text


def test_typed_melody_shows_the_score_plays_the_wav_and_offers_the_downloads(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server)
    assert _harmonize(browser, TUNE)
    assert not browser.find_element(By.ID, "error").is_displayed(), browser.find_element(By.ID, "error").text
    assert browser.find_element(By.ID, "result").is_displayed()
    assert "Harmonization" in browser.find_element(By.ID, "title").text

    pages = browser.find_elements(By.CSS_SELECTOR, "#score img.score-page")
    assert pages and all(p.get_attribute("src").split("?")[0].endswith(".svg") for p in pages)
    WebDriverWait(browser, WAIT).until(lambda d: d.execute_script(
        "return [...document.querySelectorAll('#score img')].every(i => i.complete && i.naturalWidth > 0)"))
    assert b"<svg" in _fetch(pages[0].get_attribute("src"))
    # The piano roll is drawn in the page from the MIDI file: every note of the four voices.
    WebDriverWait(browser, WAIT).until(lambda d: d.find_element(By.ID, "roll").get_attribute("data-notes"))
    drawn = int(browser.find_element(By.ID, "roll").get_attribute("data-notes"))
    legend = browser.find_element(By.ID, "legend").text

    links = {name: browser.find_element(By.ID, f"dl-{name}") for name in ("midi", "musicxml", "wav")}
    midi = _fetch(links["midi"].get_attribute("href"))
    assert midi[:4] == b"MThd"
    (tmp_path / "h.mid").write_bytes(midi)
    voices = midi_read.read_midi(tmp_path / "h.mid").voices
    assert drawn == sum(len(v) for v in voices) > 0
    assert legend.split() == ["Soprano", "Alto", "Tenor", "Bass"]
    assert b"<score-partwise" in _fetch(links["musicxml"].get_attribute("href"))
    assert links["midi"].get_attribute("download") == "harmonized.mid"
    if not _audio_expected():
        assert not links["wav"].is_displayed()
        return
    player = browser.find_element(By.ID, "player")
    src = player.get_attribute("src")
    assert src.split("?")[0].endswith(".wav") and links["wav"].get_attribute("href") == src
    wav = _fetch(src)
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE" and len(wav) > 44
    # The browser itself decodes it: its duration is known, and it plays.
    WebDriverWait(browser, WAIT).until(lambda d: d.execute_script(
        "const a = document.getElementById('player'); return a.readyState >= 1 && a.duration > 0 || a.error !== null"))
    assert browser.execute_script("return document.getElementById('player').error") is None
    assert browser.execute_script("return document.getElementById('player').duration") > 1.0
    played = browser.execute_async_script("""const done = arguments[arguments.length - 1];
        document.getElementById('player').play().then(() => done(true), (e) => done(String(e)));""")
    assert played is True, played


def test_a_bad_melody_shows_one_line_and_the_page_goes_on(server, browser):
    from selenium.webdriver.common.by import By

    browser.get(server)
    _harmonize(browser, "tinyNotation: 4/4 zz")
    error = browser.find_element(By.ID, "error")
    assert error.is_displayed() and "not tinyNotation" in error.text and "\n" not in error.text.strip()
    assert not browser.find_element(By.ID, "result").is_displayed()
    _harmonize(browser, TUNE)
    assert not browser.find_element(By.ID, "error").is_displayed()
    assert browser.find_elements(By.CSS_SELECTOR, "#score img.score-page")


def test_an_uploaded_midi_melody_and_compose_both_show_their_results(server, browser, tmp_path):
    import midi_bytes
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    tune = [(0.0, 1.0, 72), (1.0, 1.0, 74), (2.0, 1.0, 76), (3.0, 1.0, 77), (4.0, 2.0, 79), (6.0, 2.0, 76)]
    path = midi_bytes.write(tmp_path / "my tune.mid", [midi_bytes.track_bytes(tune)])
    browser.get(server)
    WebDriverWait(browser, WAIT).until(lambda d: "run folder" in d.find_element(By.ID, "run").text)
    browser.find_element(By.ID, "melody-file").send_keys(str(path))
    browser.find_element(By.ID, "harmonize").click()
    WebDriverWait(browser, WAIT).until(lambda d: "my tune.mid" in d.find_element(By.ID, "title").text
                                       or d.find_element(By.ID, "error").is_displayed())
    assert not browser.find_element(By.ID, "error").is_displayed(), browser.find_element(By.ID, "error").text
    (tmp_path / "h.mid").write_bytes(_fetch(browser.find_element(By.ID, "dl-midi").get_attribute("href")))
    assert midi_read.read_midi(tmp_path / "h.mid").voices[0] == tune  # the uploaded tune is the soprano

    length = browser.find_element(By.ID, "length")
    length.clear()
    length.send_keys("60")
    browser.find_element(By.ID, "compose").click()
    WebDriverWait(browser, WAIT).until(lambda d: "chorale" in d.find_element(By.ID, "title").text
                                       or d.find_element(By.ID, "error").is_displayed())
    assert not browser.find_element(By.ID, "error").is_displayed(), browser.find_element(By.ID, "error").text
    assert browser.find_element(By.ID, "dl-midi").get_attribute("href").split("?")[0].endswith("/chorale.mid")
    assert browser.find_elements(By.CSS_SELECTOR, "#score img.score-page")
