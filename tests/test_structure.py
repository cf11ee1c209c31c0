"""The package's shape: every module imports alone, no import cycle (lazy imports included), encoding
names only inside `encodings`, run-folder file names only in `run_folder`, `--help` without TensorFlow."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "music_lstm"


def modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that `name` imports anywhere in its file (inside functions too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in known:
                    found.add(sub)
                elif target in known:
                    found.add(target)
    return found - {name}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def package_graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports_of(name, path, set(mods)) for name, path in mods.items()}


def test_the_package_imports_form_no_cycle():
    graph = package_graph()
    assert graph["music_lstm.tasks.generate"] >= {"music_lstm.runs.run_folder", "music_lstm.core.sampling"}  # the walker sees imports
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_cycle_finder_finds_a_cycle_made_on_purpose():
    graph = package_graph()
    graph["music_lstm.encodings.common"] = graph["music_lstm.encodings.common"] | {"music_lstm.tasks.generate"}
    assert find_cycle(graph) is not None


@pytest.mark.slow
def test_every_module_imports_alone_in_a_fresh_interpreter():
    names = [n for n in modules() if n != "music_lstm.app.cli"] + ["music_lstm.app.cli"]
    procs = {n: subprocess.Popen([sys.executable, "-c", f"import {n}"], cwd=ROOT, stderr=subprocess.PIPE, text=True)
             for n in names}
    failed = {n: p.communicate(timeout=240)[1][-500:] for n, p in procs.items() if p.wait(timeout=240) != 0}
    assert not failed, failed


def _literals(path: Path) -> list[tuple[int, str]]:
    """String constants of a file that are not docstrings."""
    tree = ast.parse(path.read_text())
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
            and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]


def test_encoding_names_appear_only_inside_the_encodings_package():
    from music_lstm import encodings

    names = set(encodings.CHOICES) - {"seed"}  # chords' old name is also the word for a random seed
    outside = [(str(p.relative_to(ROOT)), line, v) for n, p in modules().items() if not n.startswith("music_lstm.encodings")
               for line, v in _literals(p) if v in names]
    assert not outside


def test_run_folder_file_names_appear_only_in_run_folder():
    from music_lstm.runs import run_folder

    names = {v for k, v in vars(run_folder).items() if k.isupper() and isinstance(v, str)}
    assert {"model.keras", "vocab.json", "config.json", "data.json", "corpus.npz"} <= names
    pattern = re.compile("|".join(re.escape(n) for n in names))
    outside = [(str(p.relative_to(ROOT)), line, v) for n, p in modules().items() if n != "music_lstm.runs.run_folder"
               for line, v in _literals(p) if pattern.search(v)]
    assert not outside


HELP = [  # command, words its help must show
    ([], ["train", "generate", "harmonize", "serve"]),
    (["train"], ["--encoding"]),
    (["generate"], ["--temperature"]),
    (["harmonize"], ["--best-of", "tinyNotation"]),
    (["evaluate"], ["--generated", "--harmonize"]),
    (["serve"], ["--port"]),
    (["export-bach"], ["--limit"]),
]


@pytest.mark.parametrize("command, words", HELP, ids=[" ".join(c) or "music_lstm" for c, _ in HELP])
def test_help_answers_without_importing_tensorflow_keras_or_music21(command, words):
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "music_lstm", *command, "--help"], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert all(w in out.stdout for w in words), out.stdout
    imported = {line.split("|")[-1].strip().split(".")[0] for line in out.stderr.splitlines() if line.startswith("import time:")}
    assert imported and not imported & {"tensorflow", "keras", "music21"}  # -X importtime lists every import, lazy ones too
