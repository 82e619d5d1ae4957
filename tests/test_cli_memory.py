"""`briefcraft memory ...` end to end, in subprocesses, on the sample brand that `make run` loads."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.llm

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "brands" / "northbound"


def _cli(exe: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([exe, "memory", *args], env=env, capture_output=True, text=True, timeout=300,
                          check=False)


def test_memory_cli_add_list_search_kit_remove(briefcraft_exe: str, cli_env: dict[str, str], tmp_path: Path) -> None:
    empty = tmp_path / "empty.md"
    empty.write_text("")
    added = _cli(briefcraft_exe, cli_env, "add", str(EXAMPLE / "guidelines.md"), str(EXAMPLE / "logo.png"),
                 str(empty), "--brand", "northbound")
    assert added.returncode == 2, added.stderr
    assert added.stderr.strip().splitlines()[-1] == "briefcraft: error: empty.md: the file is empty"
    lines = added.stdout.splitlines()
    assert lines[0] == "added guidelines.md: 11 chunk(s)"
    assert lines[1] == "added logo.png: image 256x256, #F4E9D8 78%, #1F3A5F 18%, #E8A33D 4%"
    assert lines[2].startswith("brand kit ") and lines[2].endswith(
        "4 forbidden_terms, 1 required_disclaimers, 4 palette; also 5 do_words, 3 dont_words, 3 product_names, "
        "3 competitors, 2 style_rules, 2 fonts, 3 logo_rules")  # the other lists, counted where they hold anything

    listed = json.loads(_cli(briefcraft_exe, cli_env, "list", "--brand", "northbound", "--json").stdout)
    assert [(s["source"], s["kind"]) for s in listed] == [("guidelines.md", "document"), ("logo.png", "image")]
    # a role for an image already in memory: only the role changes, and add and list say which it has
    protected = _cli(briefcraft_exe, cli_env, "add", str(EXAMPLE / "logo.png"), "--brand", "northbound", "--role",
                     "protected")
    assert protected.stdout.strip() == "unchanged logo.png: same content already in memory, role: protected"
    listed_text = _cli(briefcraft_exe, cli_env, "list", "--brand", "northbound").stdout.splitlines()
    assert listed_text[1].startswith("logo.png  image  1 chunk(s)  ") and listed_text[1].endswith("  role: protected")

    found = _cli(briefcraft_exe, cli_env, "search", "which colours do we use", "--brand", "northbound", "--k", "2",
                 "--json")
    hits = json.loads(found.stdout)
    assert hits[0]["source"] == "guidelines.md > Northbound Coffee brand guidelines > Colours"
    assert len(hits) == 2

    shown = _cli(briefcraft_exe, cli_env, "kit", "--brand", "northbound")
    assert "- value: Contains oats\n  source: guidelines.md > Northbound Coffee brand guidelines > Always include" \
        in shown.stdout

    cli_env["EDITOR"] = "sed -i s/value:\\ diet/value:\\ budget/"
    edited = _cli(briefcraft_exe, cli_env, "kit", "--brand", "northbound", "--edit")
    assert edited.returncode == 0, edited.stderr
    kit = json.loads(_cli(briefcraft_exe, cli_env, "kit", "--brand", "northbound", "--json").stdout)
    assert {"value": "budget", "source": f"edited by {_user()}", "origin": "person"} in kit["forbidden_terms"]
    assert kit["suppressed"] == ["diet"]

    bad = tmp_path / "bad.yaml"
    bad.write_text("brand: northbound\npalette:\n- value: navy\n  source: me\n  origin: person\n")
    refused = _cli(briefcraft_exe, cli_env, "kit", "--brand", "northbound", "--from", str(bad))
    assert (refused.returncode, refused.stderr.strip()) == (
        2, f"briefcraft: error: brand kit {bad}: palette: palette colour 'navy' is not '#RRGGBB' (upper-case hex)"
    )

    removed = _cli(briefcraft_exe, cli_env, "remove", "logo.png", "--brand", "northbound")
    assert removed.stdout.strip() == "removed logo.png (1 chunks)"
    unknown = _cli(briefcraft_exe, cli_env, "remove", "logo.png", "--brand", "northbound")
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == ("briefcraft: error: brand 'northbound' has no source 'logo.png'; "
                                      "stored: guidelines.md")
    metrics = tmp_path / "m.csv"
    metrics.write_text("asset_id,impressions,clicks,conversions\nt1/copy-x,10,1,0\n")
    refused = _cli(briefcraft_exe, cli_env, "import-metrics", str(metrics), "--brand", "northbound")
    assert refused.returncode == 2
    assert "asset id 't1/copy-x' is not an approved example of brand 'northbound'" in refused.stderr


def _user() -> str:
    import getpass

    return getpass.getuser()


def test_memory_add_takes_a_folder_of_guidelines_and_images(briefcraft_exe: str, cli_env: dict[str, str],
                                                             tmp_path: Path) -> None:
    """What a brand team keeps: a folder. Its readable files go in; the rest is named, not silently dropped."""
    folder = tmp_path / "brand"
    (folder / "old").mkdir(parents=True)
    for name in ("guidelines.md", "logo.png"):
        (folder / name).write_bytes((EXAMPLE / name).read_bytes())
    (folder / "budget.xlsx").write_bytes(b"PK")
    (folder / ".DS_Store").write_bytes(b"\0")
    added = _cli(briefcraft_exe, cli_env, "add", str(folder), "--brand", "northbound")
    assert added.returncode == 0, added.stderr
    assert added.stdout.splitlines()[:2] == [
        "added guidelines.md: 11 chunk(s)", "added logo.png: image 256x256, #F4E9D8 78%, #1F3A5F 18%, #E8A33D 4%"]
    assert added.stderr == (f"briefcraft: left out of {folder} (not a type brand memory reads, or a subfolder): "
                            "budget.xlsx, old/\n")

    nothing = tmp_path / "nothing"
    nothing.mkdir()
    (nothing / "budget.xlsx").write_bytes(b"PK")
    refused = _cli(briefcraft_exe, cli_env, "add", str(nothing), str(EXAMPLE / "past-campaigns.md"), "--brand",
                   "northbound")
    assert refused.returncode == 2
    assert refused.stderr == (f"briefcraft: error: {nothing}: a folder with no file brand memory reads; allowed: "
                              ".docx, .htm, .html, .jpeg, .jpg, .markdown, .md, .pdf, .png, .txt, .webp (subfolders "
                              "are not read)\n")
    listed = json.loads(_cli(briefcraft_exe, cli_env, "list", "--brand", "northbound", "--json").stdout)
    assert [s["source"] for s in listed] == ["guidelines.md", "logo.png"]  # refused before anything was ingested
