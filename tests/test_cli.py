"""The CLI contract, in subprocesses like a user's shell: exit codes, the pack, cross-process resume."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from briefcraft.channels import get_channel
from briefcraft.tools.export import PACK_FILES
from briefcraft.ui.cli import main

pytestmark = pytest.mark.llm


def _cli(exe: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([exe, *args], env=env, capture_output=True, text=True, timeout=300, check=False)


def test_run_approve_all_writes_the_whole_pack(briefcraft_exe: str, cli_env: dict[str, str], tmp_path: Path) -> None:
    sample = Path(__file__).resolve().parents[1] / "briefcraft" / "data" / "sample_brief.txt"
    out = tmp_path / "pack"
    done = _cli(briefcraft_exe, cli_env, "run", f"@{sample}", "--approve", "all", "--out", str(out), "--user", "cd")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(f"done; pack written to {out}")

    assert {p.name for p in out.iterdir()} == {*PACK_FILES, "assets"}
    manifest = json.loads((out / "manifest.json").read_text())
    files = {f["path"]: f for f in manifest["files"]}
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(files) == on_disk
    for path, entry in files.items():
        assert hashlib.sha256((out / path).read_bytes()).hexdigest() == entry["sha256"]

    brief = json.loads((out / "brief.json").read_text())
    assert (brief["channels"], brief["mandatory_elements"], brief["forbidden_terms"]) == (
        ["instagram_feed", "email"], ["Contains oats"], ["cheap"]
    )
    deck = json.loads((out / "copy_deck.json").read_text())
    assert [c["id"] for c in deck] == ["copy-instagram_feed-1", "copy-email-1"]
    for copy in deck:
        channel = get_channel(copy["channel"])
        for spec in channel.fields:
            assert all(len(v) <= spec.max_chars for v in copy["fields"][spec.name])
        assert "contains oats" in " ".join(v for vs in copy["fields"].values() for v in vs).lower()
    rows = list(csv.DictReader((out / "copy_deck.csv").open()))
    assert {(r["item_id"], r["field"]) for r in rows} >= {("copy-email-1", "subject"), ("copy-instagram_feed-1", "caption")}
    assert "# Copy deck: " in (out / "copy_deck.md").read_text()

    assets = sorted(p.relative_to(out).as_posix() for p in (out / "assets").rglob("*.png"))
    assert assets == [
        "assets/email/img-email-1-1200x600.png",
        "assets/instagram_feed/img-instagram_feed-1-1080x1080.png",
        "assets/instagram_feed/img-instagram_feed-1-1080x1350.png",
    ]
    assert Image.open(out / assets[1]).size == (1080, 1080)
    assert {i["renderer"] for i in manifest["images"]} == {"layout"}
    assert all("not AI imagery" in i["label"] for i in manifest["images"])

    report = json.loads((out / "compliance.json").read_text())
    assert report["checked"] == ["copy-instagram_feed-1", "copy-email-1",
                                 *(Path(i["path"]).stem for i in manifest["images"])]
    assert list(manifest["compliance"]["items"]) == report["checked"]
    audit = [json.loads(line)["event"] for line in (out / "audit.jsonl").read_text().splitlines()]
    assert manifest["audit"]["entries"] == len(audit) and audit[-1]["kind"] == "export"
    calls = [e for e in audit if e["kind"] == "model_call"]
    assert [e["node"] for e in calls] == ["intake", "write_copy", "write_copy"] or len(calls) > 3
    for call in calls:
        assert call["provider"] == "local" and call["model"] == "SmolLM2-135M-Instruct.Q4_1.gguf"
        assert call["seed"] == 7 and call["input_tokens"] > 0 and call["latency_ms"] > 0 and len(call["prompt_hash"]) == 64
    human = [(e["item_id"], e["decision"], e["actor"], e["role"]) for e in audit if e["kind"] == "human_decision"]
    assert [h[0] for h in human] == ["copy-instagram_feed-1", "copy-email-1", "img-instagram_feed-1", "img-email-1"]
    assert {h[1:] for h in human} == {("approve", "cd", "approver")}
    assert audit[-1]["kind"] == "export"


def test_stop_at_review_then_resume_in_another_process(
    briefcraft_exe: str, cli_env: dict[str, str], sample_brief: str, tmp_path: Path
) -> None:
    cli_env["BRIEFCRAFT_COMPLIANCE_AUTOFIX"] = "false"  # revisions below count the reviewer's rounds only
    waiting = _cli(briefcraft_exe, cli_env, "run", sample_brief, "--thread", "th1", "--approve", "none")
    assert waiting.returncode == 3, waiting.stderr
    assert "thread th1: waiting for approval of 4 item(s)" in waiting.stdout
    # a brand with nothing in brand memory (here the default one, in a fresh data dir) is said to get the defaults
    assert waiting.stdout.splitlines()[1] == ("brand: briefcraft defaults: no brand memory for 'default' yet; add its "
                                              "guidelines with: briefcraft memory add FILE... --brand default")

    status = _cli(briefcraft_exe, cli_env, "status", "th1", "--json")
    assert status.returncode == 3
    data = json.loads(status.stdout)
    assert data["stage"] == "waiting_for_approval"
    assert data["brand_defaults"] == "briefcraft defaults: no brand memory for 'default' yet"
    assert [a["args"]["id"] for a in data["request"]["action_requests"]][:2] == ["copy-instagram_feed-1", "copy-email-1"]

    rejected = _cli(briefcraft_exe, cli_env, "resume", "th1", "--approve", "all", "--reject", "copy-email-1",
                    "--comment", "warmer please")
    assert rejected.returncode == 3, rejected.stderr
    assert "copy-email-1  (publish_copy, revision 1)" in rejected.stdout

    out = tmp_path / "chosen"
    done = _cli(briefcraft_exe, cli_env, "resume", "th1", "--approve", "copy-email-1", "--json", "--out", str(out))
    assert done.returncode == 0, done.stderr
    pack = Path(json.loads(done.stdout)["pack"])
    assert pack == out
    assert (pack / "manifest.json").is_file()


def test_edit_from_the_cli_changes_the_named_fields_and_approves_them(
    briefcraft_exe: str, cli_env: dict[str, str], sample_brief: str, tmp_path: Path
) -> None:
    assert _cli(briefcraft_exe, cli_env, "run", sample_brief, "--thread", "ed").returncode == 3
    alt = tmp_path / "alt.txt"
    alt.write_text("alt_text: A bottle of oat-milk cold brew on a tram seat\n")
    # an edit that leaves out the mandatory element goes back to review as a new revision, with the edit in it
    mine = ["subject: Cold brew, slow mornings", "preheader: Oat-milk cold brew for the ride in",
            "headline: Cold brew for the S-Bahn", "body: Slow-steeped and smooth.\nFor the ride in.",
            "cta: Find your cold brew"]
    edited = _cli(briefcraft_exe, cli_env, "resume", "ed", "--user", "cd", "--approve", "all",
                  "--edit", "copy-email-1", "\n".join(mine[:4]), "--edit", "copy-email-1", mine[4],  # both apply
                  "--edit", "img-instagram_feed-1", f"@{alt}")
    assert edited.returncode == 3, edited.stdout + edited.stderr
    assert "waiting for approval of 1 item(s)" in edited.stdout
    assert "    body: Slow-steeped and smooth.\n          For the ride in.\n    cta: " in edited.stdout  # indented
    shown = json.loads(_cli(briefcraft_exe, cli_env, "status", "ed", "--json").stdout)
    [action] = shown["request"]["action_requests"]
    assert action["args"]["fields"] == {line.split(": ")[0]: [line.split(": ")[1]] for line in mine}
    assert "the mandatory element 'Contains oats' is missing" in action["description"]

    out = tmp_path / "pack"
    done = _cli(briefcraft_exe, cli_env, "resume", "ed", "--user", "cd", "--out", str(out),
                "--edit", "copy-email-1", "body: Slow-steeped and smooth.\nContains oats")  # a line continues it
    assert done.returncode == 0, done.stdout + done.stderr
    copy = {c["id"]: c for c in json.loads((out / "copy_deck.json").read_text())}["copy-email-1"]
    assert copy["fields"] == {**action["args"]["fields"], "body": ["Slow-steeped and smooth.\nContains oats"]}
    assert copy["author"] == "human"
    assert "## Email — copy-email-1 (edited by a person)\n" in (out / "copy_deck.md").read_text()
    audit = [json.loads(line)["event"] for line in (out / "audit.jsonl").read_text().splitlines()]
    assert [(e["item_id"], e["decision"], e["actor"]) for e in audit if e["kind"] == "human_decision"] == [
        ("copy-instagram_feed-1", "approve", "cd"), ("copy-email-1", "edit", "cd"),
        ("img-instagram_feed-1", "edit", "cd"), ("img-email-1", "approve", "cd"), ("copy-email-1", "edit", "cd"),
    ]
    # the reviewer's description of the picture follows each final's own text (the approved headline)
    # done: listed, the newest first, and not among the threads waiting for a person
    assert _cli(briefcraft_exe, cli_env, "run", sample_brief, "--thread", "ed2").returncode == 3
    assert [row["thread_id"] for row in json.loads(_cli(briefcraft_exe, cli_env, "threads", "--json").stdout)] == [
        "ed2", "ed"]
    assert [row["thread_id"] for row in json.loads(_cli(briefcraft_exe, cli_env, "threads", "--waiting", "--json")
                                                   .stdout)] == ["ed2"]
    images = json.loads((out / "manifest.json").read_text())["images"]
    assert [i["alt_text"] for i in images if i["source_id"] == "img-instagram_feed-1"] == [
        f"{i['headline']} — A bottle of oat-milk cold brew on a tram seat" for i in images
        if i["source_id"] == "img-instagram_feed-1"]


def test_clarification_answered_from_the_cli(briefcraft_exe: str, cli_env: dict[str, str]) -> None:
    assert _cli(briefcraft_exe, cli_env, "threads").stdout == "no threads yet; start one with 'briefcraft run'\n"
    asked = _cli(briefcraft_exe, cli_env, "run", "Launch our oat-milk cold brew to Berlin commuters on TikTok.",
                 "--thread", "q", "--user", "maya")
    assert asked.returncode == 3
    question = "Nothing is made for TikTok: the channel catalog has no such channel. Which channels should we write for?"
    assert f"waiting for clarification\n  {question}" in asked.stdout
    # the thread list says what each thread waits for
    [listed] = json.loads(_cli(briefcraft_exe, cli_env, "threads", "--waiting", "--json").stdout)
    assert (listed["thread_id"], listed["user"], listed["stage"], listed["brief"]) == (
        "q", "maya", "waiting_for_clarification", None)
    assert listed["waits_for"][0].startswith(f"{question} Choose from: instagram_feed, ")
    answered = _cli(briefcraft_exe, cli_env, "resume", "q", "--answer", "Instagram")
    assert answered.returncode == 3
    assert "copy-instagram_feed-1" in answered.stdout
    lines = _cli(briefcraft_exe, cli_env, "threads").stdout.splitlines()
    assert lines[0].startswith("q  waiting_for_approval  started ") and lines[0].endswith(" by maya")
    assert lines[1].endswith(" on instagram_feed; for Berlin commuters; nothing is made for TikTok: the channel catalog has no such channel")
    assert lines[2] == "  waits for: copy-instagram_feed-1, img-instagram_feed-1"
    # the brief as read comes first, with the platform it names that nothing is made for
    first = answered.stdout.splitlines()[0]
    assert first.startswith("brief: ") and first.endswith(
        " on instagram_feed; for Berlin commuters; nothing is made for TikTok: the channel catalog has no such channel"
    )
    shown = json.loads(_cli(briefcraft_exe, cli_env, "status", "q", "--json").stdout)
    assert (shown["brief"]["channels"], shown["brief"]["unsupported_platforms"]) == (["instagram_feed"], ["TikTok"])


def test_bad_input_is_one_line_and_exit_2(briefcraft_exe: str, cli_env: dict[str, str], tmp_path: Path) -> None:
    bad_brief = tmp_path / "brief.json"
    bad_brief.write_text(json.dumps({"product": "Tote", "channels": ["tiktok"]}))
    long = tmp_path / "long.txt"
    long.write_text("x" * 4001)
    cases = {
        ("run", ""): "briefcraft: error: the brief is empty",
        ("run", f"@{long}"): "the brief is 4001 characters; the limit is 4000 (BRIEFCRAFT_MAX_BRIEF_CHARS)",
        ("run", f"@{bad_brief}"): "channels: unknown channel 'tiktok'; allowed: instagram_feed",
        ("run", "@/nope.txt"): "cannot read /nope.txt",
        ("status", "nope"): "unknown thread 'nope'",
        ("resume", "nope", "--approve", "all"): "unknown thread 'nope'",
    }
    for args, message in cases.items():
        result = _cli(briefcraft_exe, cli_env, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_bad_decisions_keep_the_thread_resumable(
    briefcraft_exe: str, cli_env: dict[str, str], sample_brief: str
) -> None:
    assert _cli(briefcraft_exe, cli_env, "run", sample_brief, "--thread", "th2").returncode == 3
    before = _cli(briefcraft_exe, cli_env, "status", "th2", "--json").stdout
    cases = {
        ("--approve", "copy-nope"): "unknown item id 'copy-nope'; pending: copy-instagram_feed-1",
        ("--approve", "copy-email-1"): "no decision for copy-instagram_feed-1",
        ("--decisions", '{"decisions": [{"type": "approve"}]}'): "got 1 decisions for 4 pending items",
        ("--decisions", "{oops"): "--decisions is not valid JSON",
        ("--answer", "Instagram"): "thread 'th2' is waiting for approval: --answer does not apply; it takes",
        ("--reject", "img-email-1", "--drop", "img-email-1", "--approve", "all"):
            "item 'img-email-1' has two decisions: reject and drop",
        ("--edit", "copy-email-1", "title: Hi", "--approve", "all"):
            "edit of 'copy-email-1' line 1: start with a field name and a colon (subject, preheader, headline, body, "
            "cta)",
        ("--edit", "copy-email-1", " ", "--approve", "all"): "edit of 'copy-email-1' names no field",
        ("--edit", "img-email-1", "alt_text: a\nalt_text: b", "--approve", "all"):
            "edit of 'img-email-1': give the alt text on one 'alt_text:' line",
        ("--edit", "copy-nope", "headline: Hi", "--approve", "all"): "unknown item id 'copy-nope'",
        ("--edit", "img-email-1", "alt_text: a", "--reject", "img-email-1", "--approve", "all"):
            "item 'img-email-1' has two decisions: reject and edit",
    }
    for args, message in cases.items():
        result = _cli(briefcraft_exe, cli_env, "resume", "th2", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert _cli(briefcraft_exe, cli_env, "status", "th2", "--json").stdout == before
    assert _cli(briefcraft_exe, cli_env, "resume", "th2", "--approve", "all").returncode == 0
    again = _cli(briefcraft_exe, cli_env, "resume", "th2", "--approve", "all")
    assert again.returncode == 2 and "is done; nothing to resume" in again.stderr


def test_bad_settings_name_the_variable(briefcraft_exe: str, cli_env: dict[str, str]) -> None:
    result = _cli(briefcraft_exe, {**cli_env, "BRIEFCRAFT_LLM": "gemini"}, "status", "x")
    assert result.returncode == 2
    assert result.stderr.strip() == "briefcraft: error: BRIEFCRAFT_LLM: unknown provider 'gemini'; allowed: local, openai, anthropic, openai-compatible"


def test_approve_ask_prompts_in_the_terminal(briefcraft_exe: str, cli_env: dict[str, str], sample_brief: str) -> None:
    # 'x' is refused and asked again; the first image is edited ('nope' is refused and typed again); the second image
    # is rejected too; then 'all' approves the rewrites of both rejected items
    answers = "a\nx\nr\nmore playful\ne\nnope\n\nalt_text: Oat cold brew on a tram seat\n\nr\nwarmer light\nall\n"
    result = subprocess.run(
        [briefcraft_exe, "run", sample_brief, "--approve", "ask", "--thread", "ask1"], input=answers, env=cli_env,
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "type a, r, e, d or all" in result.stdout
    assert "copy-email-1: [a]pprove, [r]eject, [e]dit, [d]rop, or approve [all] from here?" in result.stdout
    assert "approved copy-email-1, img-email-1" in result.stdout
    assert "edit of 'img-instagram_feed-1' line 1: start with a field name and a colon (alt_text); type the lines " \
           "again" in result.stdout
    pack = Path(cli_env["BRIEFCRAFT_DATA_DIR"]) / "packs" / "ask1"
    audit = [json.loads(line)["event"] for line in (pack / "audit.jsonl").read_text().splitlines()]
    assert [(e["item_id"], e["decision"]) for e in audit if e["kind"] == "human_decision"][1:] == [
        ("copy-email-1", "reject"), ("img-instagram_feed-1", "edit"), ("img-email-1", "reject"),
        ("copy-email-1", "approve"), ("img-email-1", "approve"),
    ]
    assert [e["comment"] for e in audit if e["decision"] == "reject"] == ["more playful", "warmer light"]
    images = json.loads((pack / "manifest.json").read_text())["images"]
    assert {i["alt_text"] for i in images if i["source_id"] == "img-instagram_feed-1"} == {
        f"{i['headline']} — Oat cold brew on a tram seat" for i in images if i["source_id"] == "img-instagram_feed-1"}


def test_an_etsy_listing_reaches_review_with_the_local_model(briefcraft_exe: str, cli_env: dict[str, str]) -> None:
    """The longest channel's copy (title, 13 tags, description): the local model's replies used to be cut off at the
    old 200-token limit, twice, and every retry of the thread failed the same way."""
    brief = "Etsy listing for hand-dyed merino wool scarves. Must say 'Handmade in Leeds'. Visit woolandleeds.co.uk"
    result = _cli(briefcraft_exe, cli_env, "run", brief, "--thread", "etsy", "--json")
    assert result.returncode == 3, result.stderr
    status = json.loads(result.stdout)
    actions = status["request"]["action_requests"]
    copy = next(a["args"] for a in actions if a["args"]["id"] == "copy-etsy_listing-1")
    assert copy["fields"]["description"][0].endswith(("Handmade in Leeds", "Handmade in Leeds."))
    assert all(0 < len(tag) <= 20 for tag in copy["fields"]["tags"])  # fitted to Etsy's limit by code


def test_approve_ask_when_input_ends(briefcraft_exe: str, cli_env: dict[str, str]) -> None:
    """Input that ends before every answer (a script, `< /dev/null`) leaves the thread waiting, not an internal error."""
    result = subprocess.run([briefcraft_exe, "run", "Launch it.", "--approve", "ask", "--thread", "eof"], input="",
                            env=cli_env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 3, result.stderr
    assert result.stderr == "briefcraft: input ended before everything pending had an answer; nothing of this " \
                            "checkpoint was decided\n"
    assert "thread eof: waiting for clarification" in result.stdout
    assert _cli(briefcraft_exe, cli_env, "status", "eof").returncode == 3


def test_a_reader_that_goes_away_ends_the_command_quietly(capsys: pytest.CaptureFixture[str]) -> None:
    """`briefcraft ... | head`: the closed pipe is not an internal error."""
    read, write = os.pipe()
    os.close(read)
    with os.fdopen(write, "w", buffering=1) as closed:  # line-buffered: the first line meets the closed pipe
        stdout, sys.stdout = sys.stdout, closed
        try:
            code = main(["check", "copy", "The #1 coffee ever!!", "--channel", "x_post"])
        finally:
            sys.stdout = stdout
    assert code == 1
    assert capsys.readouterr().err == ""
