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
    # Every host but this machine's blocked: the page needs nothing from another (scripts, fonts, sounds).
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,1000",
                "--autoplay-policy=no-user-gesture-required", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
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
    browser.execute_script("document.querySelector('#melody').closest('details').open = true")
    box = browser.find_element(By.ID, "melody")
    box.clear()
    box.send_keys(melody)
    # The progress may come and go between two polls: a watcher set up before the click records it. The page shows
    # it for a request longer than half a second: the answer is held back a second here.
    browser.execute_script("""
        window.progressShown = false;
        const status = document.getElementById('status');
        new MutationObserver(() => { if (status.classList.contains('on')) window.progressShown = true; })
            .observe(status, {attributes: true});
        const real = window.fetch;
        window.fetch = (url, options) => options && options.method === 'POST'
            ? real(url, options).then((r) => new Promise((done) => setTimeout(() => done(r), 1000))) : real(url, options);""")
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

    # The score, engraved by the server, is drawn in the page: one inline SVG a page, its bars numbered.
    WebDriverWait(browser, WAIT).until(lambda d: d.find_element(By.ID, "score").get_attribute("data-ready") == "1")
    pages = browser.find_elements(By.CSS_SELECTOR, "#score .score-page svg")
    assert pages and browser.find_elements(By.CSS_SELECTOR, '#score g.measure[data-bar="1"] g.note')
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
    # The browser itself decodes it: its duration is known, and it plays (the page does not preload it: it plays the
    # notes itself, and the WAV is a download).
    browser.execute_script("const a = document.getElementById('player'); a.preload = 'auto'; a.load();")
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
    assert browser.find_elements(By.CSS_SELECTOR, "#score .score-page")


def test_an_uploaded_midi_melody_and_compose_both_show_their_results(server, browser, tmp_path):
    import midi_bytes
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    tune = [(0.0, 1.0, 72), (1.0, 1.0, 74), (2.0, 1.0, 76), (3.0, 1.0, 77), (4.0, 2.0, 79), (6.0, 2.0, 76)]
    path = midi_bytes.write(tmp_path / "my tune.mid", [midi_bytes.track_bytes(tune)])
    browser.get(server)
    WebDriverWait(browser, WAIT).until(lambda d: "run folder" in d.find_element(By.ID, "run").text)
    browser.execute_script("document.querySelector('#melody').closest('details').open = true")
    browser.find_element(By.ID, "melody-file").send_keys(str(path))
    browser.find_element(By.ID, "harmonize").click()
    WebDriverWait(browser, WAIT).until(lambda d: "my tune.mid" in d.find_element(By.ID, "title").text
                                       or d.find_element(By.ID, "error").is_displayed())
    assert not browser.find_element(By.ID, "error").is_displayed(), browser.find_element(By.ID, "error").text
    (tmp_path / "h.mid").write_bytes(_fetch(browser.find_element(By.ID, "dl-midi").get_attribute("href")))
    assert midi_read.read_midi(tmp_path / "h.mid").voices[0] == tune  # the uploaded tune is the soprano

    length = browser.find_element(By.ID, "length")
    length.clear()
    length.send_keys("4")
    browser.find_element(By.ID, "compose").click()
    WebDriverWait(browser, WAIT).until(lambda d: "chorale" in d.find_element(By.ID, "title").text
                                       or d.find_element(By.ID, "error").is_displayed())
    assert not browser.find_element(By.ID, "error").is_displayed(), browser.find_element(By.ID, "error").text
    assert browser.find_element(By.ID, "dl-midi").get_attribute("href").split("?")[0].endswith("/chorale.mid")
    assert browser.find_elements(By.CSS_SELECTOR, "#score .score-page")


# --- the tune entered on the staff, heard, and a bar rewritten ----------------------------------------------

# Sixteen bars in G major (63 notes, the last a half note) as keys after the first note, placed by a click: a
# letter is the nearest note of that name.
KEYS = ("abg" "baga" "bbcd" "dcba" "gabg" "abca" "bagf" "gagg", "d", "\ue008\ue013\ue000",  # Shift+Up: an octave up
        "dbc" "dedc" "bcdb" "abag" "efga" "bcba" "gafg" "af")
CLICKED_G4_Y = 30 + (38 - 32) * 4  # staff.js: the top line (F5, step 38) at y 30 in row 0, 4 px a step; G4 is step 32


@pytest.fixture(scope="module")
def local_page(tiny_satb_run, tmp_path_factory):
    """The page in this process with the tiny run, its `api.rewrite` a fake that moves the alto and tenor of the
    bars asked a semitone down and every other note not at all (the page's wiring, whatever the network)."""
    _browser_or_skip()
    from test_serve import Page

    from music_lstm.app import api, serve
    from music_lstm.tasks.result import Chorale

    def rewrite(source, *, bars, voices, run_dir=None, seed=None, log=None, **options):
        lo, hi = (bars[0] - 1) * 4.0, bars[1] * 4.0
        moved = [[(o, d, p - 1 if lo <= o < hi and name in voices else p) for o, d, p in v]
                 for name, v in zip(("soprano", "alto", "tenor", "bass"), source.voices)]
        return Chorale(tuple(moved), source.key, source.time_signature, 0.0, "harmonize", run_dir, source.bpm)

    studio = serve.Studio(tiny_satb_run, tmp_path_factory.mktemp("local") / "files")
    studio.load()
    studio.rewrite_problem = lambda api: None  # the fake rewrites with a left-to-right run
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(api, "rewrite", rewrite, raising=False)
        page = Page(studio)
        try:
            yield f"http://127.0.0.1:{page.port}/?token={page.server.token}"
        finally:
            page.close()


def _midi_voices(url, tmp_path, name):
    (tmp_path / name).write_bytes(_fetch(url))
    return [list(v) for v in midi_read.read_midi(tmp_path / name).voices]


def test_a_tune_entered_by_clicks_and_keys_is_harmonized_played_rewritten_and_undone(local_page, browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(local_page)
    WebDriverWait(browser, WAIT).until(lambda d: "run folder" in d.find_element(By.ID, "run").text)
    browser.find_element(By.CSS_SELECTOR, '#palette [data-do="clear"]').click()
    svg = browser.find_element(By.CSS_SELECTOR, "#staff svg")
    size = svg.size
    ActionChains(browser).move_to_element_with_offset(svg, 100 - size["width"] // 2,
                                                      CLICKED_G4_Y - size["height"] // 2).click().perform()
    staff = browser.find_element(By.ID, "staff")
    staff.send_keys(*KEYS)
    staff.send_keys("2", "g")  # the last bar's half note: a digit chooses the length
    tune = browser.find_element(By.ID, "melody").get_attribute("value")
    assert staff.get_attribute("data-notes") == "63" and tune.startswith("tinyNotation: 4/4 g4 a4 b4 g4 b4 a4")
    assert "g4 g4 d'4 d'4 b4 c'4" in tune and tune.endswith("a4 f#4 g2")  # G major's F sharp, from the key the notes suggest
    assert browser.find_element(By.ID, "key").get_attribute("value") == "G major"
    staff.send_keys("c", "\ue003")  # a note too many, and Backspace takes it away
    assert browser.find_element(By.ID, "melody").get_attribute("value") == tune

    sent = []
    browser.execute_script("""window.sent = []; const real = window.fetch;
        window.fetch = (url, o) => { if (o && o.body) window.sent.push([url, JSON.parse(o.body)]); return real(url, o); };""")
    browser.find_element(By.ID, "harmonize").click()
    score = browser.find_element(By.ID, "score")
    WebDriverWait(browser, WAIT).until(lambda d: score.get_attribute("data-ready") == "1"
                                       or d.find_element(By.ID, "error").is_displayed())
    assert not browser.find_element(By.ID, "error").is_displayed(), browser.find_element(By.ID, "error").text
    sent = browser.execute_script("return window.sent")
    assert sent[0][0] == "/api/harmonize" and sent[0][1]["key"] == "G major" and sent[0][1]["melody"] == tune
    assert "in G major" in browser.find_element(By.ID, "title").text and score.get_attribute("data-bars") == "16"
    first = _midi_voices(browser.find_element(By.ID, "dl-midi").get_attribute("href"), tmp_path, "v1.mid")
    assert len(first[0]) == 63 and first[0][-1][1] == 2.0 and first[0][0][2] == 67  # the tune is the soprano

    # Played in the page: the AudioContext runs and the cursor moves through the score's notes. A click on Play
    # while a note entered on the staff still sounds plays the score (it does not only stop the note).
    browser.execute_script('Synth.play([[[0, 1, 67]]], 90, null, null, 0, "note")')
    assert browser.execute_script('return Synth.playing("note") && !Synth.playing("score")')
    browser.find_element(By.ID, "play").click()
    WebDriverWait(browser, WAIT).until(lambda d: d.execute_script("return window.synthState && window.synthState.state")
                                       == "running" and float(score.get_attribute("data-cursor") or 0) > 0)
    assert browser.execute_script('return Synth.playing("score") && window.synthState.kind') == "score"
    at = float(score.get_attribute("data-cursor"))
    WebDriverWait(browser, WAIT).until(lambda d: float(score.get_attribute("data-cursor")) > at + 0.5)
    assert browser.find_elements(By.CSS_SELECTOR, "#score g.note.playing")
    browser.find_element(By.ID, "play").click()  # stop

    # Bar 2 chosen on the score, its alto and tenor (ticked by default) rewritten.
    # A click where a note of bar 2 is drawn (whichever voice's note is on top there: each is in bar 2).
    ActionChains(browser).move_to_element(
        browser.find_element(By.CSS_SELECTOR, '#score g.measure[data-bar="2"] g.notehead use')).click().perform()
    assert browser.find_element(By.ID, "bars-label").text == "bar 2"
    browser.find_element(By.ID, "rewrite").click()
    WebDriverWait(browser, WAIT).until(lambda d: "version 2" in d.find_element(By.ID, "version-label").text
                                       or d.find_element(By.ID, "error").is_displayed())
    assert not browser.find_element(By.ID, "error").is_displayed(), browser.find_element(By.ID, "error").text
    assert browser.execute_script("return window.sent")[-1][1]["bars"] == [2, 2]
    WebDriverWait(browser, WAIT).until(lambda d: score.get_attribute("data-ready") == "1")
    second = _midi_voices(browser.find_element(By.ID, "dl-midi").get_attribute("href"), tmp_path, "v2.mid")
    for k, (old, new) in enumerate(zip(first, second)):
        kept = [(a, b) for a, b in zip(old, new) if not (k in (1, 2) and 4.0 <= a[0] < 8.0)]
        assert all(a == b for a, b in kept), k  # every note outside bar 2's alto and tenor unchanged
        changed = [(a, b) for a, b in zip(old, new) if a != b]
        assert (k in (1, 2)) == bool(changed) and all(4.0 <= a[0] < 8.0 for a, _ in changed)
    # Undo: the first version again, its own files; redo: the second.
    browser.find_element(By.ID, "undo").click()
    assert "version 1" in browser.find_element(By.ID, "version-label").text
    assert _midi_voices(browser.find_element(By.ID, "dl-midi").get_attribute("href"), tmp_path, "u.mid") == first
    browser.find_element(By.ID, "redo").click()
    assert _midi_voices(browser.find_element(By.ID, "dl-midi").get_attribute("href"), tmp_path, "r.mid") == second
    assert len(browser.find_elements(By.CSS_SELECTOR, "#versions li")) == 2


def test_the_tune_is_played_alone_and_a_request_under_half_a_second_shows_no_progress(local_page, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(local_page)
    WebDriverWait(browser, WAIT).until(lambda d: "run folder" in d.find_element(By.ID, "run").text)
    assert browser.find_element(By.ID, "staff").get_attribute("data-notes") == "7"  # the text's tune, on the staff
    browser.find_element(By.ID, "play-tune").click()
    WebDriverWait(browser, WAIT).until(lambda d: d.execute_script(
        "return window.synthState && window.synthState.state === 'running' && window.synthState.end === 12"))
    browser.execute_script("""window.progressShown = false; const status = document.getElementById('status');
        new MutationObserver(() => { if (status.classList.contains('on')) window.progressShown = true; })
            .observe(status, {attributes: true});
        window.fetch = (url, o) => Promise.resolve(new Response('{"error": "refused"}', {status: 400}));""")
    browser.find_element(By.ID, "harmonize").click()
    WebDriverWait(browser, WAIT).until(lambda d: d.find_element(By.ID, "error").is_displayed())
    assert browser.execute_script("return window.progressShown") is False
