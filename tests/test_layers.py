"""The layers: each subpackage imports only from the layers below it (lazy, function-level imports
included), only `io` imports music21, and each package's docstring says what it holds and may import."""

import ast
import importlib

import pytest
from test_structure import PACKAGE, ROOT, imports_of, modules

# lowest first: a module may import from its own layer and the ones before it
LAYERS = ("core", "io", "encodings", "models", "runs", "training", "tasks", "eval", "app")


def layer(name: str) -> int:
    """The rank of a module (dotted name); the package itself and `__main__` sit above every layer."""
    parts = name.split(".")
    if len(parts) == 1 or parts[1] == "__main__":
        return len(LAYERS)
    return LAYERS.index(parts[1])


def upward_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(importer, imported) pairs where a module reaches a higher layer (the package's front,
    `music_lstm/__init__.py`, which reaches the API, is above them all)."""
    return sorted((a, b) for a, deps in graph.items() for b in deps if layer(b) > layer(a))


def package_graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports_of(name, path, set(mods)) for name, path in mods.items()}


def test_every_module_sits_in_a_layer():
    loose = [n for n in modules() if n.count(".") == 1 and n.split(".")[1] not in LAYERS + ("__main__",)]
    assert not loose, f"modules outside the layers: {loose}"


def test_no_module_imports_from_a_higher_layer():
    graph = package_graph()
    assert "music_lstm.core.events" in graph["music_lstm.io.midi_read"]  # the walker sees the imports
    assert not upward_imports(graph)


def test_an_upward_import_made_on_purpose_is_found():
    graph = package_graph()
    graph["music_lstm.io.midi_read"] = graph["music_lstm.io.midi_read"] | {"music_lstm.runs.run_folder"}
    assert upward_imports(graph) == [("music_lstm.io.midi_read", "music_lstm.runs.run_folder")]


def _third_party(path) -> set[str]:
    """Top-level names of what a file imports from outside the package, inside functions too."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_only_io_imports_music21():
    users = sorted(n for n, p in modules().items() if "music21" in _third_party(p))
    assert users and all(n.startswith("music_lstm.io.") for n in users), users


def test_the_thin_main_only_calls_the_command_line():
    assert imports_of("music_lstm.__main__", PACKAGE / "__main__.py", set(modules())) == {"music_lstm.app.cli"}


@pytest.mark.parametrize("name", LAYERS)
def test_each_layer_says_what_it_holds_and_what_it_may_import(name):
    doc = importlib.import_module(f"music_lstm.{name}").__doc__ or ""
    below = LAYERS[:LAYERS.index(name)]
    assert "May import" in doc, doc
    said = doc[doc.index("May import"):].split("\n\n")[0]
    assert all(f"`{b}`" in said for b in below), (name, said)  # each layer below is named
    assert not any(f"`{a}`" in said for a in LAYERS[LAYERS.index(name) + 1:]), (name, said)


def test_every_subpackage_ships():
    """pyproject's package list names every folder that holds a module (a wheel leaves out the others)."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {".".join(p.parent.relative_to(ROOT).parts) for p in PACKAGE.rglob("__init__.py")}
    assert folders <= listed, folders - listed
