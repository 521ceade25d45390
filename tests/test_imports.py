"""Every submodule pano uses through an attribute is imported by pano itself.

``import importlib`` does not load ``importlib.util``: ``importlib.util.find_spec`` then works only when
something else (an editable install's import hook, torch, the test runner) happened to load it first.
That bug shipped once (issue 12): the CLI crashed on every command after a plain ``pip install .``.

This test reads every module of the package, finds each ``name.sub`` whose ``sub`` is a submodule of the
imported module and is not imported explicitly in that file (``import name.sub``, ``from name import
sub``), and checks in a fresh interpreter, started without ``site`` (so no ``.pth`` hook runs), that
importing ``name`` alone makes ``name.sub`` available.

It also checks the package's shape: the layers read top-down as the pipeline (sphere -> io -> models ->
filters -> video -> commands) with no upward import, and every name in each ``__all__`` resolves.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import re
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pano"


def _imports(tree: ast.Module) -> tuple[dict[str, str], set[str]]:
    """(bound name -> dotted module it refers to, dotted modules imported explicitly) of one file."""
    bound: dict[str, str] = {}
    explicit: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                explicit.add(alias.name)
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    bound.setdefault(top, top)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                explicit.add(f"{node.module}.{alias.name}")
                bound.setdefault(alias.asname or alias.name, f"{node.module}.{alias.name}")
    return bound, explicit


def _chain(node: ast.Attribute) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


def _is_submodule(dotted: str) -> bool:
    try:
        return importlib.util.find_spec(dotted) is not None
    except (ImportError, ValueError, AttributeError):
        return False


def implicit_submodule_uses() -> dict[str, set[str]]:
    """root module -> its submodules that some pano file reaches by attribute without importing them."""
    uses: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        bound, explicit = _imports(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            chain = _chain(node)
            if not chain or chain[0] not in bound:
                continue
            module = bound[chain[0]]
            for attr in chain[1:]:
                dotted = f"{module}.{attr}"
                if dotted in explicit or any(e.startswith(dotted + ".") for e in explicit):
                    module = dotted
                    continue
                if not _is_submodule(dotted):
                    break
                uses.setdefault(module, set()).add(attr)
                module = dotted
    return uses


CHILD = """
import json, sys
sys.path[:0] = json.loads(sys.argv[1])
module_name, attrs = sys.argv[2], json.loads(sys.argv[3])
module = __import__(module_name, fromlist=["_"])
print(json.dumps([a for a in attrs if not hasattr(module, a)]))
"""


def _search_path() -> list[str]:
    """stdlib and site-packages folders, given to the child by hand since it runs without ``site``."""
    paths = [sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")]
    paths += site.getsitepackages()
    return list(dict.fromkeys(p for p in paths if Path(p).is_dir()))


def test_the_scan_finds_the_bug_it_is_meant_to_find(tmp_path):
    """The shape of the shipped bug is seen: ``import importlib`` then ``importlib.util.find_spec``."""
    tree = ast.parse("import importlib\nimport os\n\ndef f(m):\n    return importlib.util.find_spec(m), os.path.join\n")
    bound, explicit = _imports(tree)
    assert bound["importlib"] == "importlib" and "importlib.util" not in explicit
    chains = [_chain(n) for n in ast.walk(tree) if isinstance(n, ast.Attribute)]
    assert ["importlib", "util", "find_spec"] in chains
    assert _is_submodule("importlib.util")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", CHILD, json.dumps(_search_path()), "importlib",
                          json.dumps(["util"])], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == ["util"], "a fresh interpreter must not have importlib.util preloaded"


@pytest.mark.parametrize("module_name, attrs", sorted((m, sorted(a)) for m, a in implicit_submodule_uses().items()))
def test_submodules_used_by_attribute_come_with_their_package(module_name, attrs):
    out = subprocess.run([sys.executable, "-I", "-S", "-c", CHILD, json.dumps(_search_path()), module_name,
                          json.dumps(attrs)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    missing = json.loads(out.stdout)
    assert not missing, (f"pano uses {', '.join(f'{module_name}.{a}' for a in missing)} without importing it: "
                         f"add `import {module_name}.{missing[0]}`")


# --------------------------------------------------------------------------------------------
# the layers read top-down as the pipeline; every public name resolves

#: pano's layers, lowest first: a module may import from its own layer and the ones before it, never after.
LAYERS = ("sphere", "io", "models", "filters", "video", "commands")
_MODULE_STRING = re.compile(r"pano(\.\w+)+")


def _layer(dotted: str) -> str | None:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "pano" and parts[1] in LAYERS else None


def upward_imports(source: str, module: str) -> list[tuple[int, str]]:
    """``(line, imported module)`` for each import in ``source`` (module ``module``) of a later layer: import
    statements anywhere in the file (also inside functions and ``TYPE_CHECKING``) and lazy-export tables
    (string constants naming a pano module, ``"pano.x.y"`` or ``"pano.x.y:attr"``)."""
    me = _layer(module)
    if me is None:
        return []
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            target = node.value.split(":")[0]
            names = [target] if _MODULE_STRING.fullmatch(target) else []
        for name in names:
            other = _layer(name)
            if other is not None and LAYERS.index(other) > LAYERS.index(me):
                found.append((node.lineno, name))
    return found


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_the_layer_scan_sees_an_upward_import() -> None:
    source = "import torch\nfrom pano.sphere import x\n\ndef f():\n    from pano.filters.dream import DreamFilter\n"
    assert upward_imports(source, "pano.io.image") == [(5, "pano.filters.dream")]
    assert upward_imports('_EXPORTS = {"run": "pano.commands.video"}\n', "pano.models.registry") == [(1, "pano.commands.video")]
    assert upward_imports(source, "pano.commands.dream") == []  # downward imports are the rule


def test_no_upward_import_between_the_layers() -> None:
    """sphere -> io -> models -> filters -> video -> commands: a layer never imports a later one."""
    found = [f"{_module_name(p)}:{line} imports {name}"
             for p in sorted(PACKAGE.rglob("*.py"))
             for line, name in upward_imports(p.read_text(encoding="utf-8"), _module_name(p))]
    assert not found, "upward imports (move the shared piece down a layer):\n" + "\n".join(found)


def _all_modules() -> list[str]:
    return sorted(_module_name(p) for p in PACKAGE.rglob("*.py") if p.name != "__main__.py")


def test_every_name_in_each_all_resolves() -> None:
    """Each module's ``__all__`` (re-exports and lazy exports included) names only what the module gives."""
    checked, missing = 0, []
    for name in _all_modules():
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # an optional extra (ray) that is not installed
            if exc.name and exc.name.split(".")[0] != "pano":
                continue
            raise
        for attr in getattr(module, "__all__", ()):
            checked += 1
            if not hasattr(module, attr):
                missing.append(f"{name}.{attr}")
    assert checked > 100  # the scan reached the package's public names
    assert not missing, f"names in __all__ that do not resolve: {', '.join(missing)}"


def _pano_imports(path: Path) -> set[str]:
    """The pano modules a file imports anywhere (functions and ``TYPE_CHECKING`` included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] == "pano"}


def import_cycles(graph: dict[str, set[str]]) -> list[str]:
    """The modules of ``graph`` (module -> modules it imports) that reach themselves."""
    cycles = []
    for start in sorted(graph):
        seen: set[str] = set()
        todo = list(graph[start])
        while todo:
            module = todo.pop()
            if module not in seen:
                seen.add(module)
                todo.extend(graph.get(module, ()))
        if start in seen:
            cycles.append(start)
    return cycles


def test_io_has_no_import_cycle() -> None:
    """Each module of pano.io imports only modules that do not import it back, not even lazily."""
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c"]  # the scan sees one
    graph = {_module_name(p): _pano_imports(p) for p in sorted((PACKAGE / "io").glob("*.py")) if p.name != "__init__.py"}
    assert len(graph) >= 12 and not import_cycles(graph), import_cycles(graph)


def test_no_module_of_the_package_imports_itself_round_a_loop() -> None:
    """No import cycle anywhere in pano, lazy imports inside functions included (the two there were,
    sphere.resize <-> sphere.sampling and video.pipeline <-> video.stereo, went with padding.py and eye.py)."""
    graph = {_module_name(p): _pano_imports(p) for p in sorted(PACKAGE.rglob("*.py")) if p.name != "__init__.py"}
    assert len(graph) >= 80 and not import_cycles(graph), import_cycles(graph)
