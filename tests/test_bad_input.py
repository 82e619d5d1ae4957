"""Bad input, as a user gives it through the library and the CLI: each is refused with one clear line that names
what was wrong and what is allowed, and nothing is lost (a thread stays where it was, a refused upload leaves no
chunks). Briefs in other scripts are not bad input: they reach review."""

from __future__ import annotations

import io
import json
import math
import os
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.types import Command
from PIL import Image
from pydantic import ValidationError

from briefcraft.agents.brand_kit import Refused, ingest
from briefcraft.agents.models import LocalLlamaChat
from briefcraft.channels import channel_ids, get_channel
from briefcraft.errors import BriefError, ConfigError, DecisionError, IngestError, ThreadError
from briefcraft.evals.fakes import FastChat
from briefcraft.graphs import runner
from briefcraft.graphs.brief_graph import build_graph
from briefcraft.memory.ingest import read_document
from briefcraft.memory.store import ChromaBrandMemory
from briefcraft.schemas import Budget, CreativeBrief
from briefcraft.settings import Settings, load_settings
from briefcraft.tools.imagegen import ImageGenerator, Quality
from briefcraft.tools.render import RenderSpec
from briefcraft.ui.cli import main

REPO = Path(__file__).resolve().parents[1]
SAMPLE = (REPO / "briefcraft" / "data" / "sample_brief.txt").read_text(encoding="utf-8")
CHANNELS = ", ".join(channel_ids())
DOC_TYPES = ".docx, .htm, .html, .jpeg, .jpg, .markdown, .md, .pdf, .png, .txt, .webp"
IMAGE_ALLOWED = "allowed: .jpeg, .jpg, .png, .webp whose content matches the extension"
THREAD_RULE = "allowed: 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit"
ITEMS = ["copy-instagram_feed-1", "copy-email-1", "img-instagram_feed-1", "img-email-1"]


def _one_line(error: BaseException | str) -> str:
    text = str(error)
    assert text and "\n" not in text, f"not one line: {text!r}"
    return text


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bad-input") / "data"


@pytest.fixture(scope="module")
def fast_settings(data: Path) -> Settings:
    return Settings(_env_file=None, data_dir=data)  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def graph(fast_settings: Settings) -> Any:
    """The real graph with the fast fake model: what the model writes does not matter here."""
    return build_graph(fast_settings, chat_model=FastChat())


@pytest.fixture(scope="module")
def waiting(graph: Any, fast_settings: Settings) -> runner.RunStatus:
    """A thread waiting at review with the sample brief's four items; bad decisions must leave it so."""
    current = runner.start(graph, SAMPLE, thread_id="waiting", max_brief_chars=fast_settings.max_brief_chars,
                           user="maya")
    assert current.stage == "waiting_for_approval"
    assert [a["args"]["id"] for a in current.items] == ITEMS
    return current


@pytest.fixture
def cli(data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """Run ``briefcraft ARGS`` in process against the module's data dir; returns (exit code, stdout, stderr)."""
    for name in [n for n in os.environ if n.startswith("BRIEFCRAFT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("BRIEFCRAFT_DATA_DIR", str(data))

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    yield run


def _cli_error(run: Any, *args: str) -> str:
    """The one stderr line of a CLI call refused as bad input (exit 2), without its prefix."""
    code, _, err = run(*args)
    assert code == 2, err
    assert err.count("\n") == 1, f"not one line: {err!r}"
    assert err.startswith("briefcraft: error: ")
    return err.removeprefix("briefcraft: error: ").rstrip("\n")


# --- briefs -------------------------------------------------------------------------------------------------------

BRIEFS = [
    ("", "the brief is empty; describe the product, audience and channels"),
    ("  \n\t ", "the brief is empty; describe the product, audience and channels"),
    ("x" * 4001, "the brief is 4001 characters; the limit is 4000 (BRIEFCRAFT_MAX_BRIEF_CHARS)"),
]


@pytest.mark.parametrize(("text", "message"), BRIEFS)
def test_bad_brief_text_is_refused_and_starts_no_thread(graph: Any, text: str, message: str) -> None:
    with pytest.raises(BriefError) as raised:
        runner.start(graph, text, thread_id="never", max_brief_chars=4000)
    assert _one_line(raised.value) == message
    with pytest.raises(ThreadError, match="unknown thread 'never'"):
        runner.status(graph, "never")


@pytest.mark.parametrize("given", [{}, {"messages": []}, {"messages": [{"type": "ai", "content": "Hello"}]}])
def test_a_graph_input_without_a_brief_names_both_ways_to_give_one(graph: Any, given: dict[str, Any]) -> None:
    """What a LangGraph API client may send: no ``request`` and no human message."""
    with pytest.raises(BriefError) as raised:
        graph.invoke({"brand_id": "house", **given}, {"configurable": {"thread_id": "no-brief"}}, durability="sync")
    assert _one_line(raised.value) == "no brief: give the brief as 'request', or as a human message in 'messages'"


@pytest.mark.parametrize(("given", "message"), [
    ({"brief": {"product": "cold brew", "channels": ["tiktok"]}},
     f"brief: channels: unknown channel 'tiktok'; allowed: {CHANNELS}"),
    ({"brief": "cold brew on email"}, "brief is a str; allowed: a JSON object of CreativeBrief's fields"),
    ({"request": "Cold brew on email.", "limits": {"max_cost_usd": -1}},
     "limits: max_cost_usd: Input should be greater than or equal to 0"),
    ({"request": "Cold brew on email.", "brand_id": "../.."},
     "brand name '../..' is not usable: give 1-48 letters, digits, spaces or dashes"),
])
def test_a_structured_brief_or_budget_given_as_json_is_checked(graph: Any, given: dict[str, Any],
                                                               message: str) -> None:
    """A LangGraph API client gives a structured brief and a budget as JSON objects, not as our models."""
    thread_id = f"json-{uuid.uuid4().hex}"
    with pytest.raises(BriefError) as raised:
        graph.invoke(given, {"configurable": {"thread_id": thread_id}}, durability="sync")
    assert _one_line(raised.value) == message
    failed = runner.status(graph, thread_id)  # the JSON stays in the thread's input; its status still reads
    assert (failed.stage, failed.error, failed.brief) == ("failed", f"BriefError: {message}", None)


def test_a_structured_brief_given_as_json_runs_on_its_own_budget(graph: Any) -> None:
    config = {"configurable": {"thread_id": "json-ok"}}
    graph.invoke({"brief": {"product": "Oat cold brew", "channels": ["email"], "deliverables": ["copy"],
                            "limits": {"max_revision_rounds": 0}}}, config, durability="sync")
    values = graph.get_state(config).values
    assert isinstance(values["brief"], CreativeBrief) and values["brief"].product == "Oat cold brew"
    assert values["limits"] == Budget(max_revision_rounds=0)
    assert runner.status(graph, "json-ok").stage == "waiting_for_approval"


def test_threads_a_client_started_list_with_the_brief_it_gave(graph: Any) -> None:
    """A chat message or a JSON brief as the input (what a LangGraph API client sends): listed with its first line,
    or its product, and its brand; each of these is refused at intake, before any model call."""
    started = {
        "chat": {"messages": [{"type": "human", "content": "Hi"}, {"type": "ai", "content": "Your brief?"},
                              {"type": "human", "content": "Oat cold brew on email.\nPlayful."}], "brand_id": "../.."},
        "json": {"brief": {"product": "Cold brew", "channels": ["tiktok"], "brand": "northbound"}},
    }
    for name, given in started.items():
        with pytest.raises(BriefError):
            graph.invoke(given, {"configurable": {"thread_id": f"client-{name}"}}, durability="sync")
    listed = {info.thread_id: (info.brand, info.title) for info in runner.threads(graph)}
    assert listed["client-chat"] == ("../..", "Oat cold brew on email.")
    assert listed["client-json"] == ("northbound", "Cold brew (structured brief)")


@pytest.mark.parametrize(("messages", "message"), [
    ([5], "messages: Unsupported message type: <class 'int'>"),
    ([{"text": "Oat cold brew on email."}],
     "messages: Message dict must contain 'role' and 'content' keys, got {'text': 'Oat cold brew on email.'}"),
])
def test_input_messages_that_are_not_messages_fail_the_thread_in_one_line(graph: Any, cli: Any, messages: list[Any],
                                                                         message: str) -> None:
    """LangGraph keeps such an input and replays it on every read of the thread: its status still reads (as
    failed, with the same line), and so do the thread list and the other threads."""
    thread_id = f"not-messages-{uuid.uuid4().hex}"
    line = f"{message}; allowed: chat messages, e.g. {{'type': 'human', 'content': 'the brief'}}"
    with pytest.raises(BriefError) as raised:
        graph.invoke({"messages": messages}, {"configurable": {"thread_id": thread_id}}, durability="sync")
    assert _one_line(raised.value) == line
    failed = runner.status(graph, thread_id)
    assert (failed.stage, failed.error, failed.waiting) == ("failed", f"BriefError: {line}", False)
    assert {info.thread_id: info.title for info in runner.threads(graph)}[thread_id] == ""
    code, out, _ = cli("threads")
    assert code == 0 and f"{thread_id}  failed  started " in out
    assert out.split(f"{thread_id}  failed  started ")[1].splitlines()[1] == "  (no brief: its input was refused)"
    _, out, _ = cli("status", thread_id)  # a retry would replay the same input: status does not offer one
    assert out.splitlines() == [f"thread {thread_id}: failed: BriefError: {line}",
                                "start a new thread with the input corrected: briefcraft run BRIEF"]
    assert _cli_error(cli, "resume", thread_id) == line
    assert _cli_error(cli, "resume", thread_id, "--approve", "all") == (
        f"thread '{thread_id}' is failed: --approve does not apply; nothing waits for a decision (its input was "
        "refused: start a new thread with it corrected)")


def _file(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return f"@{path}"


BRIEF_FILES: list[tuple[str, bytes, str]] = [
    ("empty.txt", b"", "the brief is empty; describe the product, audience and channels"),
    ("long.txt", b"y" * 4001, "the brief is 4001 characters; the limit is 4000 (BRIEFCRAFT_MAX_BRIEF_CHARS)"),
    ("latin1.txt", "caf\xe9".encode("latin-1"),
     "{dir}/latin1.txt is not UTF-8 text (byte 3); allowed: a UTF-8 text or .json file"),
    ("tiktok.json", b'{"product": "cold brew", "channels": ["tiktok"]}',
     f"{{dir}}/tiktok.json: channels: unknown channel 'tiktok'; allowed: {CHANNELS}"),
    ("twice.json", b'{"product": "cold brew", "channels": ["email", "email"]}',
     "{dir}/twice.json: channels: channels repeat: ['email', 'email']"),
    ("nan.json", b'{"product": "cold brew", "channels": ["email"], "limits": {"max_cost_usd": NaN}}',
     "{dir}/nan.json: limits.max_cost_usd: Input should be a finite number"),
    ("noproduct.json", b'{"channels": ["email"]}', "{dir}/noproduct.json: product: Field required"),
    ("list.json", b"[1, 2]", "{dir}/list.json: input: Input should be an object"),
    ("broken.json", b"{bad", "{dir}/broken.json: input: Invalid JSON: key must be a string at line 1 column 2"),
]


@pytest.mark.parametrize(("name", "content", "message"), BRIEF_FILES, ids=[c[0] for c in BRIEF_FILES])
def test_bad_brief_file_through_the_cli(cli: Any, tmp_path: Path, name: str, content: bytes, message: str) -> None:
    assert _cli_error(cli, "run", _file(tmp_path, name, content), "--thread", "brief-file") == \
        message.format(dir=tmp_path)
    assert _cli_error(cli, "status", "brief-file") == "unknown thread 'brief-file'; start one with 'briefcraft run'"


def test_unknown_channels(graph: Any) -> None:
    with pytest.raises(KeyError) as raised:
        get_channel("tiktok")
    assert raised.value.args[0] == f"unknown channel 'tiktok'; allowed: {CHANNELS}"
    with pytest.raises(ValidationError) as invalid:
        CreativeBrief(product="cold brew", channels=["email", "snapchat"])
    assert invalid.value.errors()[0]["msg"] == f"Value error, unknown channel 'snapchat'; allowed: {CHANNELS}"
    # in chat text an unknown channel is not an error: the brief names no channel we know, so intake asks
    asked = runner.start(graph, "Launch our oat-milk cold brew on TikTok and Snapchat.", thread_id="tiktok",
                         max_brief_chars=4000)
    assert asked.stage == "waiting_for_clarification"
    assert asked.request is not None
    assert asked.request["action_requests"][0]["args"]["missing"] == ["channels"]
    assert asked.question is not None
    assert asked.question.startswith("Nothing is made for TikTok and Snapchat: the channel catalog has no such "
                                     "channel. Which channels should we write for? Choose from: instagram_feed,")


# --- uploads ------------------------------------------------------------------------------------------------------

def _png(size: tuple[int, int] = (32, 32), mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, "PNG")
    return buffer.getvalue()


def _gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "GIF")
    return buffer.getvalue()


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "not a Word document")
    return buffer.getvalue()


UPLOADS: list[tuple[str, bytes, str]] = [
    ("page.pdf", b"<html><body><h1>Brand</h1></body></html>",
     f"page.pdf: not a PDF (no %PDF- header); allowed: {DOC_TYPES}"),
    ("notes.png", b"just some text\n",
     f"notes.png: not a readable image (the content is not PNG as its extension says); {IMAGE_ALLOWED}"),
    ("notes.jpg", b"just some text\n",
     f"notes.jpg: not a readable image (the content is not JPEG as its extension says); {IMAGE_ALLOWED}"),
    ("anim.png", _gif(), f"anim.png: the content is GIF, not PNG as its extension says; {IMAGE_ALLOWED}"),
    ("photo.webp", _png(), f"photo.webp: the content is PNG, not WEBP as its extension says; {IMAGE_ALLOWED}"),
    ("half.png", _png()[:60], f"half.png: not a readable image (image file is truncated); {IMAGE_ALLOWED}"),
    ("bomb.png", _png((20000, 20000), "1"),
     "bomb.png: too many pixels to open safely: Image size (400000000 pixels) exceeds limit of 178956970 pixels"),
    ("memo.docx", b"plain text", f"memo.docx: not a Word (.docx) document (File is not a zip file); allowed: {DOC_TYPES}"),
    ("archive.docx", _zip(), f"archive.docx: a zip file but not a Word document; allowed: {DOC_TYPES}"),
    ("binary.md", b"\x00\x01\x02", "binary.md: binary content behind a text extension; allowed: UTF-8 text"),
    ("latin1.txt", "caf\xe9".encode("latin-1"), "latin1.txt: not UTF-8 text (byte 3); save it as UTF-8"),
    ("empty.md", b"", "empty.md: the file is empty"),
    ("blank.md", b"  \n\n ", "blank.md: no text found (a scanned PDF needs OCR before it can be ingested)"),
    ("big.txt", b"z" * 1_100_000, "big.txt: 1.1 MB is over the 1.0 MB limit (BRIEFCRAFT_MAX_UPLOAD_MB)"),
    ("setup.exe", b"MZ", f"setup.exe: unsupported type '.exe'; allowed: {DOC_TYPES}"),
    ("README", b"hello", f"README: unsupported type '(no extension)'; allowed: {DOC_TYPES}"),
]
NAMES = [
    ("../evil.md", "file name '../evil.md' is not allowed: give a plain file name without folders"),
    ("/etc/passwd.md", "file name '/etc/passwd.md' is not allowed: give a plain file name without folders"),
    ("..\\..\\evil.md", "file name '..\\\\..\\\\evil.md' is not allowed: give a plain file name without folders"),
    ("..", "file name '..' is not allowed: give a plain file name without folders"),
    ("", "file name '' is not allowed: give a plain file name without folders"),
    ("a\x00.md", "file name 'a\\x00.md' is not allowed: give a plain file name without folders"),
    ("a\nb.md", "file name 'a\\nb.md' is not allowed: control characters or over 200 characters"),
    ("n" * 201 + ".md", f"file name '{'n' * 201}.md' is not allowed: control characters or over 200 characters"),
]


@pytest.fixture(scope="module")
def memory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ChromaBrandMemory, Settings]]:
    settings = Settings(_env_file=None, data_dir=tmp_path_factory.mktemp("uploads"), max_upload_mb=1.0)  # type: ignore[call-arg]
    with ChromaBrandMemory(settings) as store:
        yield store, settings


@pytest.mark.parametrize(("name", "content", "message"), UPLOADS, ids=[c[0] for c in UPLOADS])
def test_bad_upload_is_refused_and_leaves_no_chunks(
    memory: tuple[ChromaBrandMemory, Settings], tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    store, settings = memory
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(IngestError) as raised:
        read_document(path, max_bytes=1_000_000)
    assert _one_line(raised.value) == message
    outcome = ingest(store, settings, "uploads", [(path, None)])
    assert [(type(r), r.error) for r in outcome.results] == [(Refused, message)]  # type: ignore[union-attr]
    assert store.sources("uploads") == []


@pytest.mark.parametrize(("name", "message"), NAMES, ids=[repr(n[0])[:20] for n in NAMES])
def test_upload_names_that_leave_the_folder_are_refused(
    memory: tuple[ChromaBrandMemory, Settings], tmp_path: Path, name: str, message: str
) -> None:
    store, _ = memory
    path = tmp_path / "guidelines.md"
    path.write_text("# Voice\nWarm and plain.\n", encoding="utf-8")
    with pytest.raises(IngestError) as raised:
        store.add(path, brand="uploads", name=name)
    assert _one_line(raised.value) == message
    assert store.sources("uploads") == []


def test_memory_cli_refuses_each_bad_upload_on_one_line(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "page.pdf").write_bytes(b"<html>not a pdf</html>")
    (tmp_path / "notes.png").write_bytes(b"just some text\n")
    code, out, err = cli("memory", "add", str(tmp_path / "page.pdf"), str(tmp_path / "notes.png"), "--brand",
                         "cli-uploads")
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"briefcraft: error: page.pdf: not a PDF (no %PDF- header); allowed: {DOC_TYPES}",
        f"briefcraft: error: notes.png: not a readable image (the content is not PNG as its extension says); {IMAGE_ALLOWED}",
    ]
    code, out, _ = cli("memory", "list", "--brand", "cli-uploads", "--json")
    assert (code, json.loads(out)) == (0, [])


@pytest.mark.parametrize("args", [["memory", "add", "guide.md", "--brand", ""], ["run", "Launch it.", "--brand", " "],
                                  ["check", "copy", "Hi", "--channel", "x_post", "--brand", ""], ["ui", "--brand", ""]])
def test_an_empty_brand_flag_is_not_the_default_brand(cli: Any, args: list[str]) -> None:
    """`--brand "$BRAND"` with the variable unset: refused, rather than writing to or reading the default brand."""
    assert _cli_error(cli, *args) == ("--brand is empty; give a brand name, or leave the flag out to use "
                                      "BRIEFCRAFT_BRAND (else 'default')")


LONG_BRAND = "Northbound Coffee Roasters of the Pacific Northwest, Est. 2009"
UNUSABLE_BRAND = f"brand name {LONG_BRAND!r} is not usable: give 1-48 letters, digits, spaces or dashes"


@pytest.mark.parametrize("args", [["run", "Launch it."], ["ui"], ["memory", "list"], ["check", "copy", "Hi",
                                                                                        "--channel", "x_post"]])
def test_a_brand_name_memory_cannot_store_is_refused_before_any_work(cli: Any, args: list[str]) -> None:
    """Named as given, not as BRIEFCRAFT_BRAND; `run` used to start (and ask its clarifying question) with it."""
    assert _cli_error(cli, *args, "--brand", LONG_BRAND) == UNUSABLE_BRAND
    code, out, _ = cli("threads", "--json")
    assert code == 0 and [t for t in json.loads(out) if t["brand"] == LONG_BRAND] == []


def test_a_brand_name_memory_cannot_store_in_the_library_and_settings(
    graph: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(BriefError) as raised:
        runner.start(graph, "Launch it on Instagram.", thread_id="long-brand", max_brief_chars=1000, brand=LONG_BRAND)
    assert str(raised.value) == UNUSABLE_BRAND
    assert graph.get_state({"configurable": {"thread_id": "long-brand"}}).created_at is None
    with pytest.raises(ValidationError, match="is not usable: give 1-48"):
        CreativeBrief(product="Cold brew", channels=["email"], brand="!!!")
    monkeypatch.setenv("BRIEFCRAFT_BRAND", LONG_BRAND)
    with pytest.raises(ConfigError) as config:
        load_settings(_env_file=None)
    assert str(config.value) == f"BRIEFCRAFT_BRAND: {UNUSABLE_BRAND}"


@pytest.mark.parametrize("k", ["0", "-3", "101"])
def test_memory_search_k_out_of_range(cli: Any, k: str) -> None:
    assert _cli_error(cli, "memory", "search", "colours", "--k", k) == f"--k {k} is out of range; allowed: 1 to 100"


# --- image parameters ---------------------------------------------------------------------------------------------

STEPS = "allowed: a whole number from 1 to 200 (BRIEFCRAFT_IMAGE_PREVIEW_STEPS, BRIEFCRAFT_IMAGE_FINAL_STEPS)"
GUIDANCE = "allowed: a number from 0 to 30.0 (BRIEFCRAFT_IMAGE_GUIDANCE)"
STRENGTH = "allowed: a number above 0, up to 1 (BRIEFCRAFT_IMAGE_REFINE_STRENGTH)"
QUALITIES: list[tuple[dict[str, Any], str]] = [
    ({"steps": 0, "guidance": 5.0}, f"image steps 0 are not usable; {STEPS}"),
    ({"steps": 201, "guidance": 5.0}, f"image steps 201 are not usable; {STEPS}"),
    ({"steps": 2.5, "guidance": 5.0}, f"image steps 2.5 are not usable; {STEPS}"),
    ({"steps": math.nan, "guidance": 5.0}, f"image steps nan are not usable; {STEPS}"),
    ({"steps": True, "guidance": 5.0}, f"image steps True are not usable; {STEPS}"),
    ({"steps": 4, "guidance": math.nan}, f"image guidance nan is not usable; {GUIDANCE}"),
    ({"steps": 4, "guidance": math.inf}, f"image guidance inf is not usable; {GUIDANCE}"),
    ({"steps": 4, "guidance": -1.0}, f"image guidance -1.0 is not usable; {GUIDANCE}"),
    ({"steps": 4, "guidance": 31.0}, f"image guidance 31.0 is not usable; {GUIDANCE}"),
    ({"steps": 4, "guidance": 5.0, "strength": 0.0}, f"image strength 0.0 is not usable; {STRENGTH}"),
    ({"steps": 4, "guidance": 5.0, "strength": 1.5}, f"image strength 1.5 is not usable; {STRENGTH}"),
    ({"steps": 4, "guidance": 5.0, "strength": math.nan}, f"image strength nan is not usable; {STRENGTH}"),
]


@pytest.mark.parametrize(("kwargs", "message"), QUALITIES)
def test_out_of_range_quality(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Quality(**kwargs)
    assert _one_line(raised.value) == message


SETTINGS: list[Any] = [
    ({"image_guidance": math.nan}, "BRIEFCRAFT_IMAGE_GUIDANCE: Input should be a finite number"),
    ({"llm_timeout_s": math.inf}, "BRIEFCRAFT_LLM_TIMEOUT_S: Input should be a finite number"),
    ({"image_guidance": 31}, "BRIEFCRAFT_IMAGE_GUIDANCE: Input should be less than or equal to 30"),
    ({"image_preview_steps": 0}, "BRIEFCRAFT_IMAGE_PREVIEW_STEPS: Input should be greater than or equal to 1"),
    ({"image_final_steps": 500}, "BRIEFCRAFT_IMAGE_FINAL_STEPS: Input should be less than or equal to 200"),
    ({"image_final_steps": "many"},
     "BRIEFCRAFT_IMAGE_FINAL_STEPS: Input should be a valid integer, unable to parse string as an integer"),
    ({"image_refine_strength": 0}, "BRIEFCRAFT_IMAGE_REFINE_STRENGTH: Input should be greater than 0"),
    ({"image_variants": 9}, "BRIEFCRAFT_IMAGE_VARIANTS: Input should be less than or equal to 4"),
]


@pytest.mark.parametrize(("overrides", "message"), SETTINGS)
def test_out_of_range_image_settings(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(_env_file=None, **overrides)
    assert _one_line(raised.value) == message


SIZES: list[tuple[int, int]] = [(0, 64), (64, -8), (8, 300), (9000, 64)]


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_out_of_range_render_size(width: int, height: int) -> None:
    with pytest.raises(ValueError) as raised:
        RenderSpec(width=width, height=height, palette=("#112233",), seed=1)
    assert _one_line(raised.value) == f"size {width}x{height} is out of range; allowed: 16 to 8192 px a side"


def test_out_of_range_generator_size_and_count(tiny_sd: tuple[Path, Path]) -> None:
    """The generator refuses sizes before rounding them to its latent grid, where 0 would silently become 16."""
    generator = ImageGenerator.load(str(tiny_sd[0]), device="cpu")
    quality = Quality(steps=1, guidance=1.0)
    for width, height in SIZES:
        with pytest.raises(ValueError) as raised:
            generator.text_to_image("a cup", width=width, height=height, seed=1, quality=quality)
        assert _one_line(raised.value) == f"size {width}x{height} is out of range; allowed: 16 to 8192 px a side"
    for count in (0, 17):
        with pytest.raises(ValueError) as raised:
            generator.text_to_image("a cup", width=64, height=64, seed=1, quality=quality, count=count)
        assert _one_line(raised.value) == f"count {count} is out of range; allowed: 1 to 16 images a call"


# --- budgets ------------------------------------------------------------------------------------------------------

BUDGETS = [
    ("--max-cost-usd", "nan", "budget: max_cost_usd: Input should be a finite number"),
    ("--max-cost-usd", "inf", "budget: max_cost_usd: Input should be a finite number"),
    ("--max-cost-usd", "-1", "budget: max_cost_usd: Input should be greater than or equal to 0"),
    ("--max-gpu-seconds", "-inf", "budget: max_gpu_seconds: Input should be a finite number"),
    ("--max-revision-rounds", "11", "budget: max_revision_rounds: Input should be less than or equal to 10"),
]


@pytest.mark.parametrize(("flag", "value", "message"), BUDGETS)
def test_bad_budget_flags(cli: Any, flag: str, value: str, message: str) -> None:
    assert _cli_error(cli, "run", SAMPLE, f"{flag}={value}", "--thread", "budget") == message
    assert _cli_error(cli, "status", "budget") == "unknown thread 'budget'; start one with 'briefcraft run'"


# --- decisions ----------------------------------------------------------------------------------------------------

APPROVE = {"type": "approve"}


def _edit(args: object, name: str = "publish_copy") -> dict[str, Any]:
    return {"type": "edit", "edited_action": {"name": name, "args": args}}


DECISIONS: list[tuple[object, str]] = [
    (None, "thread 'waiting' is waiting for approval; give decisions"),
    ({}, 'a resume value must be an HITLResponse: {"decisions": [...]}'),
    ({"decisions": "approve"}, 'a resume value must be an HITLResponse: {"decisions": [...]}'),
    ({"decisions": []}, "got 0 decisions for 4 pending items; give one per item, in order"),
    ({"decisions": [APPROVE] * 5}, "got 5 decisions for 4 pending items; give one per item, in order"),
    ({"decisions": [{"type": "yes"}] + [APPROVE] * 3},
     "decision for 'copy-instagram_feed-1' has type 'yes'; allowed: approve, edit, reject, drop"),
    ({"decisions": [{"type": "respond", "message": "ok"}] + [APPROVE] * 3},
     "decision for 'copy-instagram_feed-1' has type 'respond'; allowed: approve, edit, reject, drop"),
    ({"decisions": ["approve"] * 4}, "decision for 'copy-instagram_feed-1' must be an object, got str"),
    ({"decisions": [{"type": "reject", "message": 5}] + [APPROVE] * 3},
     "reject decision for 'copy-instagram_feed-1': 'message' must be text"),
    ({"decisions": [{"type": "reject", "message": "m" * 2001}] + [APPROVE] * 3},
     "reject decision for 'copy-instagram_feed-1': comment: String should have at most 2000 characters"),
    ({"decisions": [{"type": "edit"}] + [APPROVE] * 3},
     "edit decision for 'copy-instagram_feed-1' needs 'edited_action' with 'args'"),
    ({"decisions": [_edit({"id": "copy-other"})] + [APPROVE] * 3},
     "edit decision for 'copy-instagram_feed-1' changes the item id; ids cannot be edited"),
    ({"decisions": [_edit({"fields": "new headline"})] + [APPROVE] * 3},
     "edit of 'copy-instagram_feed-1': fields: Input should be a valid dictionary"),
    ({"decisions": [_edit({"fields": {"headline": "one"}})] + [APPROVE] * 3},
     "edit of 'copy-instagram_feed-1': fields.headline: Input should be a valid list"),
    ({"decisions": [_edit({"headline": ["x"]})] + [APPROVE] * 3},
     "edit of 'copy-instagram_feed-1': unknown field 'headline'; allowed: id, channel, variant, revision, fields, "
     "author"),
    ({"decisions": [APPROVE] * 2 + [_edit({"headline": "x"}, "publish_image"), APPROVE]},
     "only alt_text can be edited on image 'img-instagram_feed-1'; reject it to get a new render"),
    ({"decisions": [APPROVE] * 2 + [_edit({"alt_text": 7}, "publish_image"), APPROVE]},
     "edit of 'img-instagram_feed-1': alt_text: Input should be a valid string"),
]


@pytest.mark.parametrize(("response", "message"), DECISIONS, ids=[m[:40] for _, m in DECISIONS])
def test_malformed_decision_leaves_the_thread_waiting(graph: Any, waiting: runner.RunStatus, response: object,
                                                      message: str) -> None:
    config = {"configurable": {"thread_id": "waiting"}}
    before = graph.get_state(config)
    with pytest.raises(DecisionError) as raised:
        runner.resume(graph, "waiting", response, user="maya")  # type: ignore[arg-type]
    assert _one_line(raised.value) == message
    after = graph.get_state(config)
    assert after.config == before.config  # no new checkpoint: the graph never saw it
    assert runner.status(graph, "waiting") == waiting


def test_reviewer_name_too_long_is_refused(cli: Any, graph: Any, waiting: runner.RunStatus) -> None:
    assert _cli_error(cli, "resume", "waiting", "--approve", "all", "--user", "u" * 201) == \
        f"--user {'u' * 40!r} is not usable; allowed: 1-200 printable characters"
    assert runner.status(graph, "waiting") == waiting


CLI_DECISIONS: list[tuple[list[str], str]] = [
    (["--decisions", "{bad"], "--decisions is not valid JSON: Expecting property name enclosed in double quotes at "
                              "line 1"),
    (["--decisions", "[]"], 'a resume value must be an HITLResponse: {"decisions": [...]}'),
    (["--decisions", '{"decisions": [{"type": "approve"}]}'],
     "got 1 decisions for 4 pending items; give one per item, in order"),
    (["--approve", "copy-nope"], f"unknown item id 'copy-nope'; pending: {', '.join(ITEMS)}"),
    (["--approve", "copy-email-1"],
     "no decision for copy-instagram_feed-1, img-instagram_feed-1, img-email-1; use --approve ID, --reject ID, "
     "--edit ID 'FIELD: TEXT', --drop ID or --approve all"),
    (["--approve", "copy-email-1", "--reject", "copy-email-1"],
     "item 'copy-email-1' has two decisions: reject and approve"),
    (["--approve", "all", "--comment", "why"], "each --comment must follow a --reject ID"),
    (["--answer", "cold brew"],  # a stage's flags given at another stage were dropped without a word
     "thread 'waiting' is waiting for approval: --answer does not apply; it takes --approve, --reject, --comment, "
     "--drop, --edit or --decisions"),
    (["--approve", "all", "--max-cost-usd", "5", "--max-revision-rounds", "2"],
     "thread 'waiting' is waiting for approval: --max-cost-usd, --max-revision-rounds do not apply; it takes "
     "--approve, --reject, --comment, --drop, --edit or --decisions"),
    (["--decisions", '{"decisions": []}', "--approve", "all", "--answer", "x"],
     "--decisions gives every decision; --approve, --answer cannot be added to it"),
]


@pytest.mark.parametrize(("args", "message"), CLI_DECISIONS, ids=[" ".join(a)[:30] for a, _ in CLI_DECISIONS])
def test_malformed_cli_decision_leaves_the_thread_waiting(cli: Any, graph: Any, waiting: runner.RunStatus,
                                                          args: list[str], message: str) -> None:
    assert _cli_error(cli, "resume", "waiting", *args) == message
    assert runner.status(graph, "waiting") == waiting


def test_stale_and_repeated_decisions_are_refused(graph: Any, fast_settings: Settings, cli: Any) -> None:
    """Sequentially: a decision sent again after it was applied is refused, never applied twice."""
    runner.start(graph, SAMPLE, thread_id="twice", max_brief_chars=fast_settings.max_brief_chars, user="maya")
    first = {"decisions": [{"type": "reject", "message": "warmer"}] + [APPROVE] * 3}
    second = runner.resume(graph, "twice", first, user="maya")
    assert [(a["args"]["id"], a["args"]["revision"]) for a in second.items] == [("copy-instagram_feed-1", 1)]
    with pytest.raises(DecisionError) as raised:
        runner.resume(graph, "twice", first, user="maya")  # the same submission again: stale
    assert _one_line(raised.value) == "got 4 decisions for 1 pending items; give one per item, in order"
    assert runner.status(graph, "twice") == second
    done = runner.resume(graph, "twice", {"decisions": [APPROVE]}, user="maya")
    assert done.stage == "done"
    with pytest.raises(ThreadError) as again:
        runner.resume(graph, "twice", {"decisions": [APPROVE]}, user="maya")
    assert _one_line(again.value) == f"thread 'twice' is done; nothing to resume (pack: {done.pack})"
    assert _cli_error(cli, "resume", "twice", "--approve", "all") == \
        f"thread 'twice' is done; nothing to resume (pack: {done.pack})"
    decisions = graph.get_state({"configurable": {"thread_id": "twice"}}).values["decisions"]
    assert [(d.item_id, d.revision, d.action) for d in decisions] == [
        ("copy-instagram_feed-1", 0, "reject"), ("copy-email-1", 0, "approve"), ("img-instagram_feed-1", 0, "approve"),
        ("img-email-1", 0, "approve"), ("copy-instagram_feed-1", 1, "approve"),
    ]


def test_a_decision_refused_inside_review_leaves_the_thread_waiting(graph: Any, fast_settings: Settings) -> None:
    """A decision sent to the graph without the runner's checks (as a LangGraph API client can) is refused by the
    review node's own check, with the runner's line; LangGraph keeps nothing of it (before, it kept the value and
    handed it to the node on every retry), so the thread still waits and the next decision moves it."""
    waiting = runner.start(graph, SAMPLE, thread_id="jam", max_brief_chars=fast_settings.max_brief_chars, user="maya")
    config = {"configurable": {"thread_id": "jam"}}
    for bad, line in [
        ({"decisions": [_edit({"fields": "new headline"})] + [APPROVE] * 3},
         "edit of 'copy-instagram_feed-1': fields: Input should be a valid dictionary"),
        ({"decisions": [APPROVE]}, "got 1 decisions for 4 pending items; give one per item, in order"),
    ]:
        with pytest.raises(ValidationError) as raised:
            graph.invoke(Command(resume=bad), config, durability="sync")
        assert [e["msg"] for e in raised.value.errors()] == [line]
        assert runner.status(graph, "jam") == waiting
    assert runner.resume(graph, "jam", runner.approve_all(waiting), user="cd").stage == "done"
    decisions = graph.get_state(config).values["decisions"]
    assert [(d.item_id, d.action, d.reviewer) for d in decisions] == [(item, "approve", "cd") for item in ITEMS]


def test_clarification_answers_that_do_not_fit(graph: Any, cli: Any) -> None:
    runner.start(graph, "Launch it on Instagram.", thread_id="asking", max_brief_chars=4000)
    asking = runner.status(graph, "asking")
    assert asking.stage == "waiting_for_clarification"
    for response, message in [
        ({"decisions": [APPROVE]}, "answer a clarifying question with a 'respond' decision carrying a 'message'"),
        ({"decisions": [{"type": "respond", "message": "  "}]}, "the answer to the clarifying question is empty"),
        ({"decisions": [{"type": "respond", "message": "a"}] * 2},
         "got 2 decisions for 1 pending items; give one per item, in order"),
    ]:
        with pytest.raises(DecisionError) as raised:
            runner.resume(graph, "asking", response)
        assert _one_line(raised.value) == message
        assert runner.status(graph, "asking") == asking
    assert _cli_error(cli, "resume", "asking", "--approve", "all", "--drop", "img-email-1") == (
        "thread 'asking' is waiting for clarification: --approve, --drop do not apply; it takes --answer or --decisions")
    assert runner.status(graph, "asking") == asking


# --- threads ------------------------------------------------------------------------------------------------------

def test_unknown_and_existing_thread_ids(graph: Any, waiting: runner.RunStatus) -> None:
    for call in (lambda: runner.status(graph, "ghost"), lambda: runner.resume(graph, "ghost", None)):
        with pytest.raises(ThreadError) as raised:
            call()
        assert _one_line(raised.value) == "unknown thread 'ghost'; start one with 'briefcraft run'"
    with pytest.raises(ThreadError) as exists:
        runner.start(graph, SAMPLE, thread_id="waiting", max_brief_chars=4000)
    assert _one_line(exists.value) == "thread 'waiting' already exists; use 'briefcraft resume waiting'"
    assert runner.status(graph, "waiting") == waiting


@pytest.mark.parametrize("args", [["status", "ghost"], ["resume", "ghost", "--approve", "all"],
                                  ["resume", "ghost", "--decisions", "{bad"]])
def test_unknown_thread_through_the_cli(cli: Any, args: list[str]) -> None:
    assert _cli_error(cli, *args) == "unknown thread 'ghost'; start one with 'briefcraft run'"


@pytest.mark.parametrize("thread", ["../../etc", "a/b", "", ".hidden", "-rf", "x" * 129, "tab\tid"])
def test_thread_ids_that_are_not_plain_names(cli: Any, data: Path, thread: str) -> None:
    """A new thread's id names its pack folder: one that is a path would export outside DATA_DIR/packs."""
    assert _cli_error(cli, "run", SAMPLE, f"--thread={thread}") == f"thread id {thread!r} is not usable; {THREAD_RULE}"


# --- other scripts: not bad input -----------------------------------------------------------------------------------

# One channel each (an MPU banner, short copy fields): the tiny model writes CJK copy slowly under its JSON grammar.
SCRIPTS = {
    "chinese": ("在MPU横幅上向柏林通勤者推出我们的燕麦奶冷萃咖啡。", "燕麦奶冷萃"),
    "arabic": ("أطلقوا قهوة الشوفان الباردة لدينا لركاب برلين على MPU.", "قهوة الشوفان الباردة"),
    "hebrew": ("השיקו את קפה שיבולת השועל הקר שלנו לנוסעים בברלין ב-MPU.", "קפה שיבולת שועל קר"),
    "devanagari": ("बर्लिन के यात्रियों के लिए MPU पर हमारी ओट मिल्क कोल्ड ब्रू लॉन्च करें।", "ओट मिल्क कोल्ड ब्रू"),
    "emoji": ("🚀☕ Launch our oat-milk cold brew 🥛 to Berlin commuters on an MPU 📣🎉", "oat-milk cold brew ☕"),
}


@pytest.fixture(scope="module")
def local_graph(tmp_path_factory: pytest.TempPathFactory, local_model: LocalLlamaChat) -> Any:
    # no automatic fixing round: its rewrite would double the copy time, and the checks are not the point here
    settings = Settings(_env_file=None, data_dir=tmp_path_factory.mktemp("scripts"),  # type: ignore[call-arg]
                        compliance_autofix=False)
    return build_graph(settings, chat_model=local_model)


@pytest.mark.llm
@pytest.mark.parametrize("script", list(SCRIPTS))
def test_briefs_in_other_scripts_reach_review(local_graph: Any, script: str) -> None:
    """The real local model reads the brief; when it cannot name the product, intake asks, and an answer in the same
    script is taken. Either way the brief reaches review on its channel, the text kept as written."""
    brief, product = SCRIPTS[script]
    current = runner.start(local_graph, brief, thread_id=script, max_brief_chars=4000, user="maya")
    if current.stage == "waiting_for_clarification":
        assert current.request is not None
        assert current.request["action_requests"][0]["args"]["missing"] == ["product"]
        current = runner.resume(local_graph, script, {"decisions": [{"type": "respond", "message": product}]})
    assert current.stage == "waiting_for_approval", current.error
    assert [a["args"]["id"] for a in current.items] == ["copy-display_300x250-1", "img-display_300x250-1"]
    state = local_graph.get_state({"configurable": {"thread_id": script}}).values
    assert state["brief"].channels == ["display_300x250"]
    assert state["request"].startswith(brief)
