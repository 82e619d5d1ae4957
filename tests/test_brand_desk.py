"""The studio's Brand tab, its handlers called in process on real Chroma brand memory in a temp data dir: uploads
and their ingest report (good and bad files in one upload), the kit re-distilled by the local model, sources, search
with citations, kit edits (saved, refused, stale), who may change brand memory, and unusable input."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from builders import GUIDELINES, make_image
from pydantic import SecretStr

from briefcraft.agents.brand_kit import kit_summary
from briefcraft.agents.models import LocalLlamaChat
from briefcraft.graphs.brief_graph import build_graph
from briefcraft.memory.kit import distill, kit_yaml, save_kit
from briefcraft.memory.store import ChromaBrandMemory
from briefcraft.schemas import BrandKit, KitItem
from briefcraft.settings import Settings, UiUser
from briefcraft.ui.brand_desk import UPLOAD_TYPES, BrandDesk, LoadedKit, brand_tab
from briefcraft.ui.studio import Studio

MAYA, CD, EVE = gr.Request(username="maya"), gr.Request(username="cd"), gr.Request(username="eve")
MARKETER = "maya is a marketer: only approvers and admins change brand memory"
UNUSABLE = "brand name '!!!' is not usable: give 1-48 letters, digits, spaces or dashes"
WORDS = "guidelines.md > Acme guidelines > Words"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Two logins: a marketer and an approver."""
    users = {name: UiUser(password=SecretStr(f"{name}-pw"), role=role)
             for name, role in (("maya", "marketer"), ("cd", "approver"))}
    return settings.model_copy(update={"ui_users": users})


@pytest.fixture
def memory(settings: Settings) -> Iterator[ChromaBrandMemory]:
    with ChromaBrandMemory(settings) as opened:
        yield opened


@pytest.fixture
def desk(settings: Settings, memory: ChromaBrandMemory, local_model: LocalLlamaChat) -> BrandDesk:
    return _desk(settings, memory, local_model)


@pytest.fixture
def stocked(memory: ChromaBrandMemory, tmp_path: Path) -> ChromaBrandMemory:
    """Brand Acme's guidelines in memory, with the kit the patterns read from them (no model call)."""
    memory.add(_upload(tmp_path, "guidelines.md", GUIDELINES.encode()), brand="Acme")
    save_kit(memory.kit_path("Acme"), distill("Acme", memory.kit_rules("Acme"), None))
    return memory


def _desk(settings: Settings, memory: ChromaBrandMemory, model: LocalLlamaChat) -> BrandDesk:
    """The desk as the studio wires it: the studio's viewer, the memory the graph uses."""
    studio = Studio(settings, build_graph(settings, chat_model=model, memory=memory))
    return BrandDesk(settings, memory, studio.viewer, chat_model=model)


def _upload(tmp_path: Path, name: str, content: bytes) -> Path:
    """A file as Gradio hands an upload over: its original name, in a folder of its own."""
    folder = tmp_path / "gradio" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    path = folder / name
    path.write_bytes(content)
    return path


def _logo(tmp_path: Path, name: str = "logo.png") -> str:
    folder = tmp_path / "gradio" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    return str(make_image(folder / name, ((0x11, 0x22, 0x33), (0xAB, 0xCD, 0xEF))))


@pytest.mark.llm
def test_an_approver_adds_a_guideline_and_an_image_and_anyone_reads_and_searches(
    desk: BrandDesk, memory: ChromaBrandMemory, tmp_path: Path
) -> None:
    files = [str(_upload(tmp_path, "guidelines.md", GUIDELINES.encode())), _logo(tmp_path)]
    rows, status, sources = desk.upload(files, " Acme ", "none", CD)
    assert rows == [["guidelines.md", "document", "added", "5 chunk(s)", ""],
                    ["logo.png", "image", "added", "image 256x128, #112233 75%, #ABCDEF 25%", ""]]
    kit = memory.kit("Acme")
    assert kit is not None
    assert [(i.value, i.source) for i in kit.forbidden_terms] == [("guilt-free", WORDS), ("cheap", WORDS)]
    assert [i.value for i in kit.palette] == ["#112233", "#ABCDEF"]
    assert status == f"Brand 'Acme': 2 of 2 file(s) ingested. Brand kit re-distilled: {kit_summary(kit)}."
    assert [row[:5] for row in sources] == [["guidelines.md", "document", "", 5, 0], ["logo.png", "image", "", 1, 0]]
    assert desk.sources("Acme", MAYA) == (sources, "Brand 'Acme' has 2 document(s) and image(s) in memory.")

    hits, line = desk.search("which colours are in our palette", "Acme", 2, MAYA)
    assert line == "2 passage(s) from brand 'Acme'."
    assert hits[0][1:3] == ["guidelines.md > Acme guidelines > Colours", ""]
    assert "#112233" in hits[0][3]
    text, loaded, line = desk.load_kit("Acme", MAYA)
    assert (text, loaded) == (kit_yaml(kit), LoadedKit(brand="Acme", yaml=kit_yaml(kit)))
    assert line == (f"Brand kit of 'Acme': {kit_summary(kit)}. You can read it; only approvers and admins change it "
                    "(maya is a marketer).")

    again, status, _ = desk.upload(files, "Acme", "none", CD)  # the same content: nothing to re-distil
    assert [row[2:4] for row in again] == [["unchanged", "same content already in memory"]] * 2
    assert status == "Brand 'Acme': 2 of 2 file(s) ingested."
    assert memory.kit("Acme") == kit


@pytest.mark.llm
def test_bad_files_get_their_line_and_leave_nothing_while_the_good_one_goes_in(
    settings: Settings, local_model: LocalLlamaChat, tmp_path: Path
) -> None:
    small = settings.model_copy(update={"max_upload_mb": 0.1})
    with ChromaBrandMemory(small) as memory:
        desk = _desk(small, memory, local_model)
        files = [_upload(tmp_path, "guidelines.md", GUIDELINES.encode()),
                 _upload(tmp_path, "binary.md", b"\x00\x01\x02binary"),
                 _upload(tmp_path, "tool.exe", b"MZ"),
                 _upload(tmp_path, "big.txt", b"x" * 200_001)]
        rows, status, sources = desk.upload([str(f) for f in files], "Acme", "none", CD)
        errors = {
            "binary.md": "binary.md: binary content behind a text extension; allowed: UTF-8 text",
            "tool.exe": "tool.exe: unsupported type '.exe'; allowed: .docx, .htm, .html, .jpeg, .jpg, .markdown, "
                        ".md, .pdf, .png, .txt, .webp",
            "big.txt": "big.txt: 0.2 MB is over the 0.1 MB limit (BRIEFCRAFT_MAX_UPLOAD_MB)",
        }
        assert rows == [["guidelines.md", "document", "added", "5 chunk(s)", ""],
                        *([name, "", "refused", error, ""] for name, error in errors.items())]
        kit = memory.kit("Acme")
        assert kit is not None
        assert status == "\n\n".join([f"Brand 'Acme': 1 of 4 file(s) ingested. Brand kit re-distilled: "
                                      f"{kit_summary(kit)}.", *(f"⚠ {error}" for error in errors.values())])
        assert [row[0] for row in sources] == ["guidelines.md"]
        assert [s.source for s in memory.sources("Acme")] == ["guidelines.md"]
        assert {h.source.split(" > ")[0] for h in memory.search("binary tool big", brand="Acme", k=20)} == \
            {"guidelines.md"}


def test_image_roles_and_documents_that_take_none(desk: BrandDesk, memory: ChromaBrandMemory, tmp_path: Path) -> None:
    guide = str(_upload(tmp_path, "guidelines.md", GUIDELINES.encode()))
    assert desk.upload([guide], "Acme", "friend", CD) == (
        [], "⚠ image role 'friend' is not one of: none, protected, competitor", gr.skip())
    rows, status, _ = desk.upload([guide, _logo(tmp_path, "hero.png")], "Acme", "protected", CD)
    refused = "guidelines.md: only images take a role (protected, competitor); this is a document"
    assert [row[:3] for row in rows] == [["guidelines.md", "", "refused"], ["hero.png", "image", "added"]]
    assert rows[0][3] == refused
    # an image alone distils a kit without asking the model (it has no guideline passages to read)
    assert status == f"Brand 'Acme': 1 of 2 file(s) ingested. Brand kit re-distilled: 0 voice, 0 forbidden_terms, " \
                     f"0 required_disclaimers, 0 palette.\n\n⚠ {refused}"
    assert [(r.source, r.role) for r in memory.references("Acme")] == [("hero.png", "protected")]
    assert rows[1][3].endswith(", role: protected")
    # the same image again with another role: only its role changes, and the report and the sources say so
    rows, _, sources = desk.upload([_logo(tmp_path, "hero.png")], "Acme", "competitor", CD)
    assert rows[0][2:4] == ["unchanged", "same content already in memory, role: competitor"]
    assert [row[:3] for row in sources] == [["hero.png", "image", "competitor"]]


def test_a_marketer_reads_but_cannot_upload_or_save_and_nothing_changes(
    desk: BrandDesk, stocked: ChromaBrandMemory, tmp_path: Path
) -> None:
    sources, kit_file = stocked.sources("Acme"), stocked.kit_path("Acme").read_bytes()
    new = str(_upload(tmp_path, "more.md", b"# More\n\nNever say: budget\n"))
    assert desk.upload([new], "Acme", "none", MAYA) == ([], f"⚠ {MARKETER}", gr.skip())
    text, loaded, _ = desk.load_kit("Acme", MAYA)
    edited = text.replace("value: cheap", "value: budget")
    assert desk.save_kit(edited, "Acme", loaded, MAYA) == (gr.skip(), gr.skip(), f"⚠ Not saved: {MARKETER}")
    unknown = "user 'eve' is not in BRIEFCRAFT_UI_USERS; log in again"
    assert desk.upload([new], "Acme", "none", EVE) == ([], f"⚠ {unknown}", gr.skip())
    assert desk.search("colours", "Acme", 5, EVE) == ([], f"⚠ {unknown}")
    assert stocked.sources("Acme") == sources
    assert stocked.kit_path("Acme").read_bytes() == kit_file


def test_a_kit_edit_round_trips_and_bad_or_stale_edits_are_refused_with_the_text_kept(
    desk: BrandDesk, stocked: ChromaBrandMemory
) -> None:
    assert desk.save_kit("brand: Acme\n", "Acme", None, CD) == (
        gr.skip(), gr.skip(), "⚠ Not saved: load the kit first (Load), then edit it and save")
    text, first, _ = desk.load_kit("Acme", CD)
    assert first is not None
    edited = text.replace("value: cheap", "value: budget")
    assert desk.refresh_kit("Acme", edited, first, CD) == (gr.skip(), gr.skip(), gr.skip())  # an unsaved edit stays
    shown, loaded, line = desk.save_kit(edited, "Acme", first, CD)
    kit = stocked.kit("Acme")
    assert kit is not None
    assert KitItem(value="budget", source="edited by cd", origin="person") in kit.forbidden_terms
    assert [i.value for i in kit.forbidden_terms] == ["guilt-free", "budget"]
    assert kit.suppressed == ["cheap"]
    assert (shown, loaded) == (kit_yaml(kit), LoadedKit(brand="Acme", yaml=kit_yaml(kit)))
    assert line == f"Saved the brand kit of 'Acme' (edited by cd): {kit_summary(kit)}."

    saved = stocked.kit_path("Acme").read_bytes()
    palette = shown.replace("value: '#112233'", "value: navy")
    for bad, error in [
        ("brand: [unclosed", "brand kit 'Acme': not valid YAML (while parsing a flow sequence)"),
        (palette, "brand kit 'Acme': palette: palette colour 'navy' is not '#RRGGBB' (upper-case hex)"),
        (shown.replace("brand: Acme", "brand: Other"), "the edited kit names brand 'Other'; it must stay 'Acme'"),
    ]:
        assert desk.save_kit(bad, "Acme", loaded, CD) == (gr.skip(), gr.skip(), f"⚠ Not saved: {error}")
    assert desk.save_kit(shown, "Other", loaded, CD) == (gr.skip(), gr.skip(), (
        "⚠ Not saved: the editor holds the kit of brand 'Acme', not of 'Other': press Load to edit that one"))
    # the first load is stale now: saving from it would suppress what changed meanwhile
    assert desk.save_kit(text.replace("value: Kind", "value: Gentle"), "Acme", first, CD) == (gr.skip(), gr.skip(), (
        "⚠ Not saved: the kit of brand 'Acme' changed since you loaded it (guidelines were added or someone saved "
        "an edit): copy your edit, press Load and make it again"))
    assert stocked.kit_path("Acme").read_bytes() == saved
    assert desk.refresh_kit("Acme", shown, loaded, CD)[0] == kit_yaml(kit)  # no unsaved edit: shown again


def test_a_brand_without_a_kit_and_unusable_input_are_one_line_each(desk: BrandDesk, stocked: ChromaBrandMemory,
                                                                    tmp_path: Path) -> None:
    text, loaded, line = desk.load_kit("Nova", CD)
    assert (text, loaded) == (kit_yaml(BrandKit(brand="Nova")), LoadedKit(brand="Nova", yaml=text))
    assert line == "Brand 'Nova' has no kit yet: add guidelines above, or write one here and save it."
    assert desk.sources("Nova", CD) == ([], "Brand 'Nova' has nothing in memory yet.")
    assert desk.search("colours", "Nova", 5, CD) == ([], "no matches in brand 'Nova'")

    guide = str(_upload(tmp_path, "guidelines.md", GUIDELINES.encode()))
    assert desk.upload([guide], "!!!", "none", CD) == ([], f"⚠ {UNUSABLE}", gr.skip())
    assert desk.sources("!!!", CD) == ([], f"⚠ {UNUSABLE}")
    assert desk.load_kit("!!!", CD) == (gr.skip(), gr.skip(), f"⚠ {UNUSABLE}")
    assert desk.save_kit(text, "!!!", loaded, CD) == (gr.skip(), gr.skip(), f"⚠ Not saved: {UNUSABLE}")
    assert desk.search("colours", "!!!", 5, CD) == ([], f"⚠ {UNUSABLE}")
    assert desk.search("  ", "Nova", 5, CD) == ([], "⚠ the search query is empty")
    assert desk.search("colours", "Acme", 200, CD) == ([], "⚠ k=200 is out of range; allowed: 1-100")
    assert desk.search("colours", "Acme", 2.5, CD) == ([], "⚠ k=2.5 is not a whole number; allowed: 1-100")
    assert desk.upload(None, "Nova", "none", CD) == ([], "⚠ choose the files to add first", gr.skip())
    assert desk.upload([guide] * 21, "Nova", "none", CD) == (
        [], "⚠ 21 files at once; add at most 20 per upload", gr.skip())
    assert desk.memory.sources("Nova") == []


def test_handlers_on_worker_threads_at_once_share_one_fresh_memory(desk: BrandDesk) -> None:
    # Without the desk's lock, two threads opening the embedded store together fail in chromadb most times.
    barrier, answers = threading.Barrier(3), []

    def call(handler: Any) -> None:
        barrier.wait()
        answers.append(handler())

    threads = [threading.Thread(target=call, args=(handler,)) for handler in (
        lambda: desk.sources("Acme", CD), lambda: desk.search("colours", "Acme", 5, MAYA),
        lambda: desk.load_kit("Acme", CD)[2])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(map(str, answers)) == sorted(map(str, [
        ([], "Brand 'Acme' has nothing in memory yet."), ([], "no matches in brand 'Acme'"),
        "Brand 'Acme' has no kit yet: add guidelines above, or write one here and save it."]))


def test_the_tab_carries_the_elem_id_contract(desk: BrandDesk) -> None:
    with gr.Blocks() as demo, gr.Tab("Brand", id="brand") as tab:
        brand_tab(desk, tab)
    ids = {block.elem_id: block for block in demo.blocks.values() if block.elem_id}
    assert set(ids) == {
        "brand-name", "brand-files", "brand-role", "brand-upload", "brand-report", "brand-status", "brand-sources",
        "brand-kit", "brand-kit-load", "brand-kit-save", "brand-kit-status", "brand-query", "brand-search",
        "brand-search-status", "brand-hits",
    }
    assert ids["brand-files"].file_types == UPLOAD_TYPES
    assert ids["brand-name"].value == "default"
