"""The package installs as briefcraft.* only, ships its data, and keeps its layers in order."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import briefcraft

REPO = Path(__file__).resolve().parents[1]
LAYERS = {"ui": 5, "evals": 4, "graphs": 3, "agents": 2, "tools": 1, "memory": 1, "briefcraft": 0}
FOLDERS = ("agents", "tools", "graphs", "memory", "evals", "ui")


def _python(code: str, cwd: Path) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_no_top_level_folder_modules_from_this_repo(tmp_path: Path) -> None:
    code = (
        "import importlib.util, json\n"
        f"specs = {{m: importlib.util.find_spec(m) for m in {FOLDERS!r}}}\n"
        "print(json.dumps({m: s.origin if s else None for m, s in specs.items()}))"
    )
    found = json.loads(_python(code, tmp_path))
    assert {m: o for m, o in found.items() if o and str(REPO) in str(o)} == {}


def test_subpackages_install_under_briefcraft(tmp_path: Path) -> None:
    code = ("import briefcraft.agents, briefcraft.tools, briefcraft.graphs, briefcraft.memory, briefcraft.evals as e, "
            "briefcraft.ui as u; print(u.__file__, e.__file__)")
    assert _python(code, tmp_path).split() == [str(REPO / "ui" / "__init__.py"), str(REPO / "evals" / "__init__.py")]


def test_core_and_graph_import_without_torch_or_llama(tmp_path: Path) -> None:
    code = (
        "import sys, briefcraft, briefcraft.graphs.brief_graph, briefcraft.ui.cli\n"
        "print(sorted(m for m in ('torch', 'llama_cpp', 'diffusers', 'gradio') if m in sys.modules))"
    )
    assert _python(code, tmp_path) == "[]"


def test_public_api_builds_graph_lazily(tmp_path: Path) -> None:
    code = "import sys, briefcraft; print('briefcraft.graphs.brief_graph' in sys.modules, callable(briefcraft.build_graph))"
    assert _python(code, tmp_path) == "False True"


def _imports(path: Path) -> set[str]:
    """briefcraft modules imported at import time (module level; lazy and TYPE_CHECKING imports excluded)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("briefcraft"):
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("briefcraft"))
    return names


@pytest.mark.parametrize("folder", [*FOLDERS, "briefcraft"])
def test_imports_only_go_down(folder: str) -> None:
    level = LAYERS[folder]
    # benchmark scripts are entry points on top of everything (bench_studio drives the studio); nothing imports them
    scripts = set((REPO / "evals").glob("bench_*.py"))
    for path in set((REPO / folder).rglob("*.py")) - scripts:
        for module in _imports(path):
            parts = module.split(".")
            target = parts[1] if len(parts) > 1 and parts[1] in LAYERS else "briefcraft"
            assert LAYERS[target] < level or target == folder, f"{path.relative_to(REPO)} imports {module}"


def test_wheel_holds_package_data_and_no_top_level_folders(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(REPO)],
        check=True, capture_output=True,
    )
    (wheel,) = tmp_path.glob("briefcraft-*.whl")
    assert wheel.name == f"briefcraft-{briefcraft.__version__}-py3-none-any.whl"  # one version, in the package
    names = zipfile.ZipFile(wheel).namelist()
    assert "briefcraft/data/channels.yaml" in names
    assert "briefcraft/data/sample_brief.txt" in names
    assert "briefcraft/agents/prompts.py" in names
    assert "briefcraft/graphs/brief_graph.py" in names
    assert "briefcraft/data/pricing.yaml" in names
    assert {"briefcraft/evals/briefs/briefs.jsonl", "briefcraft/evals/voice/northbound.jsonl",
            "briefcraft/evals/compliance/snippets.jsonl"} <= set(names)
    assert {n.split("/")[0] for n in names} == {"briefcraft", wheel.name.removesuffix("-py3-none-any.whl") + ".dist-info"}


def test_the_cli_reports_the_installed_version() -> None:
    done = subprocess.run([Path(sys.executable).with_name("briefcraft"), "--version"], capture_output=True, text=True,
                          check=True)
    assert done.stdout == f"briefcraft {importlib.metadata.version('briefcraft')}\n"
    assert importlib.metadata.version("briefcraft") == briefcraft.__version__
