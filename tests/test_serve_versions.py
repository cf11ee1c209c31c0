"""The page's versions, without a network: a result is a version whose notes, bars and key come back with it;
POST /api/rewrite hands that version's Chorale, the bars and the voices to `api.rewrite` (a fake here) and
answers a new version made from it, its parent named; bad bars, voices or versions are 4xx; the WAV is
rendered after the answer, and the score too (a request for either waits until it is written); the score's timemap names the SVG's own notes
and measures; a key the page sends is checked and gives the score its signature."""

import json
import re
import threading

import pytest

from music_lstm.app import api, serve, versions
from music_lstm.io import midi_read
from music_lstm.tasks.result import Chorale
from test_serve import TOKEN, Page

S = [(float(q), 1.0, 72 + (q % 3)) for q in range(12)]  # three bars of 4/4
A = [(float(q), 2.0, 67) for q in range(0, 12, 2)]
T = [(float(q), 2.0, 64) for q in range(0, 12, 2)]
B = [(float(q), 4.0, 48) for q in range(0, 12, 4)]
CHORALE = Chorale((S, A, T, B), "G major", "4/4", -1.0, "harmonize", "run")


def _studio(tmp_path, soundfont=None, **kwargs):
    studio = serve.Studio(tmp_path / "run", tmp_path / "out", soundfont=soundfont, **kwargs)
    studio.loaded["harmonize"] = object()  # as if loaded: the fake rewrite needs no network
    return studio


def _version(studio, chorale=CHORALE):
    return studio._job("harmonize", 1, lambda folder, log: studio._write_version(chorale, folder, "harmonized",
                                                                                   title="Harmonization"))


def _written(studio, answer):
    """Wait for the files written after the answer (`Studio.file` waits as a request for them does)."""
    for url in [*answer["files"]["score"], answer["files"]["timemap"], answer["files"]["musicxml"]]:
        studio.file(url)


@pytest.fixture
def fake_rewrite(monkeypatch):
    """`api.rewrite` as a fake: each call recorded; the alto of the bars asked a semitone lower."""
    calls = []

    def rewrite(source, *, bars, voices, run_dir=None, seed=None, log=None, **options):
        calls.append(dict(source=source, bars=bars, voices=voices, run_dir=run_dir, seed=seed, **options))
        lo, hi = (bars[0] - 1) * 4.0, bars[1] * 4.0
        alto = [(o, d, p - 1 if lo <= o < hi and "alto" in voices else p) for o, d, p in source.voices[1]]
        return Chorale((source.voices[0], alto, *source.voices[2:]), "A minor", "4/4", -2.0, "harmonize", run_dir)

    monkeypatch.setattr(api, "rewrite", rewrite, raising=False)
    return calls


def test_a_result_answers_its_notes_bars_key_and_files(tmp_path):
    studio = _studio(tmp_path, soundfont=tmp_path / "none.sf2")  # no audio here: no WAV promised
    answer = _version(studio)
    _written(studio, answer)
    assert answer["voices"] == [[list(n) for n in v] for v in CHORALE.voices]
    assert (answer["bars"], answer["bar_length"], answer["key"], answer["title"]) == (3, 4.0, "G major",
                                                                                       "Harmonization in G major")
    assert set(answer["files"]) == {"midi", "musicxml", "score", "timemap"}
    folder = tmp_path / "out" / answer["id"]
    assert "<fifths>1</fifths>" in (folder / "harmonized.musicxml").read_text()  # G major's signature
    assert list(midi_read.read_midi(folder / "harmonized.mid").voices) == [list(v) for v in CHORALE.voices]


def test_the_timemap_names_the_svgs_own_notes_and_its_measures_in_order(tmp_path):
    studio = _studio(tmp_path, soundfont=tmp_path / "none.sf2")
    answer = _version(studio)
    _written(studio, answer)
    folder = tmp_path / "out" / answer["id"]
    svg = (folder / "harmonized.svg").read_text()
    timemap = json.loads((folder / "harmonized.timemap.json").read_text())
    ids = set(re.findall(r'<g id="([^"]+)" class="note"', svg))
    measures = re.findall(r'<g id="([^"]+)" class="measure"', svg)
    onsets = sorted({o for v in CHORALE.voices for o, _, _ in v})
    assert [q for q, _ in timemap["notes"]] == onsets
    assert {i for _, on in timemap["notes"] for i in on} == ids  # every note, each the SVG's own id
    assert [m for _, m in timemap["measures"]] == measures and [q for q, _ in timemap["measures"]] == [0, 4, 8]
    assert timemap["pages"] == ["harmonized.svg"]


def test_rewrite_hands_the_version_bars_and_voices_to_api_rewrite_and_answers_a_new_version(tmp_path, fake_rewrite):
    studio = _studio(tmp_path, soundfont=tmp_path / "none.sf2", rewrite_run=tmp_path / "fill")
    page = Page(studio)
    try:
        first = _version(studio)
        status, answer = page.post("/api/rewrite", {"version": first["id"], "bars": [2, 2], "voices": ["tenor", "alto"],
                                                    "seed": 5})
        assert status == 200, answer
        (call,) = fake_rewrite
        assert call["source"] == CHORALE and call["bars"] == (2, 2) and call["voices"] == ("alto", "tenor")
        assert call["run_dir"] == tmp_path / "fill" and call["seed"] == 5
        assert answer["parent"] == first["id"] and answer["id"] != first["id"] and answer["change"] == "bar 2: alto, tenor"
        assert answer["key"] == "G major"  # the version's key, not one analysed again
        moved = [n for n, m in zip(answer["voices"][1], first["voices"][1]) if n != m]
        assert moved and all(4.0 <= o < 8.0 for o, _, _ in moved)
        _, _, midi = page.get(answer["files"]["midi"])
        (tmp_path / "v2.mid").write_bytes(midi)
        assert list(midi_read.read_midi(tmp_path / "v2.mid").voices[1]) == [tuple(n) for n in answer["voices"][1]]
        assert page.post("/api/rewrite", {"version": answer["id"], "bars": [1, 3], "voices": ["alto"]})[0] == 200
        assert fake_rewrite[-1]["source"].voices[1] == [tuple(n) for n in answer["voices"][1]]  # a version of a version
    finally:
        page.close()


@pytest.mark.parametrize("body, status, words", [
    ({"bars": [0, 1], "voices": ["alto"]}, 400, ["bars", "1 to 3"]),
    ({"bars": [2, 4], "voices": ["alto"]}, 400, ["bars"]),
    ({"bars": [3, 2], "voices": ["alto"]}, 400, ["bars"]),
    ({"bars": ["1", "2"], "voices": ["alto"]}, 400, ["bars"]),
    ({"bars": [1, 2], "voices": []}, 400, ["voices"]),
    ({"bars": [1, 2], "voices": ["alto", "alto"]}, 400, ["voices"]),
    ({"bars": [1, 2], "voices": ["viola"]}, 400, ["voices", "soprano"]),
    ({"bars": [1, 2], "voices": ["alto"], "version": "harmonize-nothing"}, 404, ["no such version"]),
])
def test_a_bad_rewrite_is_refused_with_one_line(tmp_path, fake_rewrite, body, status, words):
    studio = _studio(tmp_path, soundfont=tmp_path / "none.sf2")
    first = _version(studio)
    page = Page(studio)
    try:
        got, answer = page.post("/api/rewrite", {"version": first["id"], **body})
    finally:
        page.close()
    assert got == status and all(w in answer["error"] for w in words), answer
    assert not fake_rewrite


def test_rewrite_without_api_rewrite_is_501_and_a_removed_version_404(tmp_path, monkeypatch):
    monkeypatch.delattr(api, "rewrite", raising=False)
    studio = _studio(tmp_path, soundfont=tmp_path / "none.sf2", keep_requests=1)
    first = _version(studio)
    with pytest.raises(serve.RequestError) as refused:
        studio.rewrite({"version": first["id"], "bars": [1, 1], "voices": ["alto"]})
    assert refused.value.status == 501 and "not in this version" in studio.info()["rewrite"]
    _version(studio)  # the first folder is removed (keep_requests=1), and its version with it
    with pytest.raises(serve.RequestError) as gone:
        studio.rewrite({"version": first["id"], "bars": [1, 1], "voices": ["alto"]})
    assert gone.value.status == 404


def test_the_wav_is_rendered_after_the_answer_and_a_request_for_it_waits(tmp_path, monkeypatch):
    from music_lstm.io import render
    from music_lstm.io.synth import LoadedSynth

    release, started = threading.Event(), threading.Event()

    def slow_render(midi, wav, soundfont=None, **kwargs):
        started.set()
        release.wait(30)
        wav.write_bytes(b"RIFF....WAVE")
        return wav

    monkeypatch.setattr(render, "render_audio", slow_render)  # the program, and the SoundFont loaded once
    monkeypatch.setattr(LoadedSynth, "render", lambda self, midi, wav: slow_render(midi, wav))
    studio = _studio(tmp_path)
    if studio.no_audio:
        pytest.skip(f"no audio here: {studio.no_audio}")
    page = Page(studio)
    try:
        answer = _version(studio)  # answered while the WAV is still being rendered
        assert started.wait(30) and not (tmp_path / "out" / answer["id"] / "harmonized.wav").exists()
        got = {}
        fetch = threading.Thread(target=lambda: got.update(zip("shb", page.get(answer["files"]["audio"]))))
        fetch.start()
        fetch.join(0.3)
        assert fetch.is_alive()  # waits for the recording, not a 404
        release.set()
        fetch.join(30)
        assert got["s"] == 200 and got["b"] == b"RIFF....WAVE"
    finally:
        release.set()
        page.close()


def test_the_page_records_with_the_soundfont_loaded_once(tmp_path, monkeypatch):
    """Each version's WAV comes from the synthesizer loaded at start, not from a fluidsynth program per file."""
    from music_lstm.io import render
    from music_lstm.io.synth import LoadedSynth

    def program(*args, **kwargs):
        raise AssertionError("the fluidsynth program was run")

    monkeypatch.setattr(render, "render_audio", program)
    studio = _studio(tmp_path)
    if studio.no_audio:
        pytest.skip(f"no audio here: {studio.no_audio}")
    assert isinstance(studio.synth, LoadedSynth)
    for _ in range(2):
        wav = studio.file(_version(studio)["files"]["audio"])
        assert wav.read_bytes()[:4] == b"RIFF" and wav.stat().st_size > 44100


def test_a_failed_recording_is_one_line_on_request(tmp_path, monkeypatch):
    from music_lstm.core.errors import RenderError
    from music_lstm.io import render
    from music_lstm.io.synth import LoadedSynth

    def broken(midi, wav, soundfont=None, **kwargs):
        raise RenderError(f"{midi}: fluidsynth could not render it (no)")

    monkeypatch.setattr(render, "render_audio", broken)
    monkeypatch.setattr(LoadedSynth, "render", lambda self, midi, wav: broken(midi, wav))
    studio = _studio(tmp_path)
    if studio.no_audio:
        pytest.skip(f"no audio here: {studio.no_audio}")
    answer = _version(studio)
    with pytest.raises(serve.RequestError) as refused:
        studio.file(answer["files"]["audio"])
    assert refused.value.status == 404 and "fluidsynth could not render" in str(refused.value)
    assert str(tmp_path) not in str(refused.value)


@pytest.mark.parametrize("key, signature", [("G major", (1, False)), ("E minor", (1, True)), ("Bb minor", (-5, True)),
                                            ("F# major", (6, False)), ("C major", (0, False))])
def test_a_key_gives_its_signature(key, signature):
    assert versions.parse_key(key) == key and versions.key_signature(key) == signature


@pytest.mark.parametrize("key", ["H major", "G", "G dorian", 5, "g major"])
def test_a_bad_key_is_refused(key):
    with pytest.raises(versions.BadKey, match="key"):
        versions.parse_key(key)


def test_composed_music_is_cut_at_its_bars():
    voice = [(0.0, 3.0, 60), (3.0, 2.0, 62), (5.0, 1.0, 64)]
    assert versions.cut(voice, 4.0) == [(0.0, 3.0, 60), (3.0, 1.0, 62)]


def test_no_absolute_path_in_info_or_in_the_page_headers(tmp_path):
    studio = _studio(tmp_path, soundfont=tmp_path / "none.sf2")
    page = Page(studio)
    try:
        status, headers, body = page.get("/api/info")
        _, page_headers, _ = page.get("/", token=None)
    finally:
        page.close()
    assert status == 200 and TOKEN
    for text in (body.decode(), json.dumps(page_headers)):
        assert str(tmp_path) not in text and "/tmp" not in text


def test_the_answer_comes_before_the_score_is_engraved_and_the_score_is_waited_for(tmp_path, monkeypatch):
    from music_lstm.io import render

    real, release, started = render.render_score, threading.Event(), threading.Event()

    def slow_score(*args, **kwargs):
        started.set()
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(render, "render_score", slow_score)
    studio = _studio(tmp_path, soundfont=tmp_path / "none.sf2")
    page = Page(studio)
    try:
        answer = _version(studio)  # the notes to play, before the score
        assert answer["voices"] and started.wait(30)
        assert not (tmp_path / "out" / answer["id"] / "harmonized.svg").exists()
        got = {}
        fetch = threading.Thread(target=lambda: got.update(zip("shb", page.get(answer["files"]["timemap"]))))
        fetch.start()
        fetch.join(0.3)
        assert fetch.is_alive()
        release.set()
        fetch.join(30)
        assert got["s"] == 200 and json.loads(got["b"])["pages"] == ["harmonized.svg"]
    finally:
        release.set()
        page.close()


def test_info_says_why_bars_cannot_be_rewritten_with_a_left_to_right_run(tmp_path, fake_rewrite):
    from music_lstm.runs.fill_run import is_fill_run

    studio = _studio(tmp_path, soundfont=tmp_path / "none.sf2")
    assert not is_fill_run(tmp_path / "run") and "rewrites no passage" in studio.info()["rewrite"]
    assert str(tmp_path) not in studio.info()["rewrite"]
    (tmp_path / "fill").mkdir()
    (tmp_path / "fill" / "config.json").write_text(json.dumps({"kind": "fill_lstm"}))
    assert _studio(tmp_path, soundfont=tmp_path / "none.sf2", rewrite_run=tmp_path / "fill").info()["rewrite"] is None


# --- the real rewrite, with a tiny fill_lstm run --------------------------------------------------------------

@pytest.fixture(scope="module")
def fill_run(tmp_path_factory):
    from test_fill import chorale

    from music_lstm.models.fill import FillSizes
    from music_lstm.runs.fill_run import FillConfig
    from music_lstm.training.fill_train import train_fill

    run = tmp_path_factory.mktemp("fill_run")
    cfg = FillConfig(sizes=FillSizes(embed_dim=4, units=8, dense_units=16), crop=32, batch_size=8, epochs=2,
                     max_minutes=0, seed=0)
    train_fill(run, {f"p{k}": chorale(k, bars=4) for k in range(6)}, ["held1"], cfg, log=lambda m: None)
    return run


@pytest.mark.slow
@pytest.mark.parametrize("harmonizer", ["satb", "fill"])
def test_bar_2s_alto_and_tenor_rewritten_by_the_fill_run_every_other_note_kept(tiny_satb_run, fill_run, tmp_path,
                                                                               harmonizer):
    """Harmonized by a left-to-right satb run and rewritten by a fill run, or both by the fill run (as the shipped
    harmonizer is one)."""
    if harmonizer == "satb":
        studio = serve.Studio(tiny_satb_run, tmp_path / "out", soundfont=tmp_path / "none.sf2", rewrite_run=fill_run)
    else:
        studio = serve.Studio({"compose": tiny_satb_run, "harmonize": fill_run}, tmp_path / "out",
                              soundfont=tmp_path / "none.sf2")
    studio.load()
    assert not studio.unavailable and studio.fill == (harmonizer == "fill")
    assert studio.info()["rewrite"] is None
    page = Page(studio)
    try:
        status, first = page.post("/api/harmonize", {"melody": "tinyNotation: 4/4 c'4 d' e' f' g'2^ e' d'4 c' d'2 c'1^",
                                                     "seed": 1, "key": "C major"})
        assert status == 200, first
        status, second = page.post("/api/rewrite", {"version": first["id"], "bars": [2, 2], "voices": ["alto", "tenor"],
                                                    "seed": 2})
        assert status == 200, second
        voices = []
        for k, answer in enumerate((first, second)):
            (tmp_path / f"{k}.mid").write_bytes(page.get(answer["files"]["midi"])[2])
            voices.append(midi_read.read_midi(tmp_path / f"{k}.mid").voices)
    finally:
        page.close()
    lo, hi = 4.0, 8.0  # bar 2
    for k in range(4):
        old, new = voices[0][k], voices[1][k]
        if k in (0, 3):
            assert old == new, k  # the soprano and bass not touched
            continue
        inside = [n for n in old if n[0] < hi and n[0] + n[1] > lo]  # the notes sounding in bar 2
        span = (min(n[0] for n in inside), max(n[0] + n[1] for n in inside))
        assert [n for n in old if n not in inside] == [n for n in new if not span[0] <= n[0] < span[1]], k
    assert second["parent"] == first["id"] and second["key"] == "C major"


def test_a_bad_key_sent_with_a_tune_is_400_before_any_work(tmp_path):
    studio = _studio(tmp_path, soundfont=tmp_path / "none.sf2")
    with pytest.raises(serve.RequestError, match="key: 'H major' is not a key") as refused:
        studio.harmonize({"melody": "tinyNotation: 4/4 c'4 d' e' f'", "key": "H major"})
    assert refused.value.status == 400 and studio.jobs["count"] == 0 and not list((tmp_path / "out").iterdir())


@pytest.mark.slow
def test_one_fill_run_for_both_tasks_harmonizes_and_says_it_does_not_compose(fill_run, tmp_path):
    studio = serve.Studio(fill_run, tmp_path / "out", soundfont=tmp_path / "none.sf2")
    studio.load()
    assert "does not compose" in studio.unavailable["compose"] and "harmonize" not in studio.unavailable
    assert studio.fill and studio.info()["rewrite"] is None
