"""The studio's Brand tab: add guidelines and images to brand memory, read the ingest report, view and edit the brand
kit, search memory.

Handlers are methods of ``BrandDesk``: Gradio values in, ``agents.brand_kit`` and brand memory calls, Gradio values
out; every error a user can cause comes back as one "⚠" line and changes nothing. Everyone logged in may read (kit,
sources, search); only approvers and admins change brand memory (uploads, kit edits).

The desk shares its ``ChromaBrandMemory`` with the graph, and Gradio calls handlers from worker threads at once. The
store opens itself one thread at a time; beyond that, an upload (read, write, delete the stale version) or a kit edit
(read, merge, write) racing another loses data, so the desk calls brand memory one call at a time. ``brand_tab`` lays
the tab out inside the studio's ``gr.Tab``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypedDict

import gradio as gr
from langchain_core.language_models import BaseChatModel

from briefcraft.agents.brand_kit import IngestOutcome, Refused, edit_kit, ingest, kit_summary, report_summary
from briefcraft.agents.models import make_chat_model
from briefcraft.errors import BriefcraftError, BriefError, ConfigError, DecisionError, IngestError
from briefcraft.memory.ingest import DOCUMENT_TYPES, IMAGE_TYPES
from briefcraft.memory.kit import kit_yaml
from briefcraft.memory.store import ChromaBrandMemory, IngestReport
from briefcraft.schemas import IMAGE_ROLES, BrandKit, ImageRole, brand_key
from briefcraft.settings import Settings
from briefcraft.ui.threads import Viewer

__all__ = [
    "HITS_HEADERS",
    "MAX_FILES",
    "REPORT_HEADERS",
    "ROLE_CHOICES",
    "SOURCES_HEADERS",
    "UPLOAD_TYPES",
    "BrandDesk",
    "LoadedKit",
    "brand_tab",
]

#: Files one upload may hold: brand memory serves nobody else while an upload is ingested and its kit distilled.
MAX_FILES = 20
#: The suffixes the upload box accepts (what brand memory reads).
UPLOAD_TYPES = sorted({*DOCUMENT_TYPES, *IMAGE_TYPES})
#: The image role radio: (label, value); documents take no role.
ROLE_CHOICES = [("no role", "none"), ("protected: our own work, new images must not copy it", "protected"),
                ("competitor: new images must not copy it", "competitor")]
REPORT_HEADERS = ["file", "kind", "status", "details", "flagged"]
SOURCES_HEADERS = ["source", "kind", "role", "chunks", "flagged", "ingested"]
HITS_HEADERS = ["score", "source", "flagged", "passage"]

Rows = list[list[Any]]


class LoadedKit(TypedDict):
    """The kit a session loaded into the editor: its brand (as typed) and its YAML, to tell an edit from a change
    someone else made since."""

    brand: str
    yaml: str


class BrandDesk:
    """The Brand tab's handlers on one shared brand memory (one instance per process)."""

    def __init__(self, settings: Settings, memory: ChromaBrandMemory, viewer: Callable[[gr.Request | None], Viewer],
                 *, chat_model: BaseChatModel | None = None):
        """``viewer`` tells who asks (the studio's ``Studio.viewer``); ``chat_model`` distils kits (default: the
        model ``settings.llm`` names, built on the first upload, so a studio whose Brand tab is never used never
        loads a second model)."""
        self.settings = settings
        self.memory = memory
        self.viewer = viewer
        self.chat_model = chat_model
        self._lock = threading.Lock()  # held around every brand memory call (see the module docstring)

    def _changer(self, request: gr.Request | None) -> Viewer:
        """Who asks, when they may change brand memory; ``DecisionError`` otherwise."""
        viewer = self.viewer(request)
        if not viewer.decides:
            raise DecisionError(f"{viewer.name} is a {viewer.role}: only approvers and admins change brand memory")
        return viewer

    # uploads and sources

    def upload(self, files: Sequence[str] | None, brand: str, role: str | None, request: gr.Request
               ) -> tuple[Rows, str, Any]:
        """Ingest the uploaded files (Gradio's temp paths, which end in the original file names) and re-distil the
        kit when a guideline changed. Returns (the ingest report, the status line, the brand's sources)."""
        brand = brand.strip()
        try:
            self._changer(request)
            image_role = _role(role)
            paths = [Path(f) for f in files or []]
            if not paths:
                raise IngestError("choose the files to add first")
            if len(paths) > MAX_FILES:
                raise IngestError(f"{len(paths)} files at once; add at most {MAX_FILES} per upload")
            brand_key(brand)
            with self._lock:
                if self.chat_model is None:
                    self.chat_model = make_chat_model(self.settings)
                outcome = ingest(self.memory, self.settings, brand, [(p, p.name) for p in paths], image_role,
                                 model=self.chat_model)
        except BriefcraftError as error:
            return [], f"⚠ {error}", gr.skip()
        rows, line = [_report_row(r) for r in outcome.results], _upload_line(brand, outcome)
        try:
            return rows, line, self._source_rows(brand)
        except BriefcraftError as error:  # the files went in: keep their report
            return rows, f"{line}\n\n⚠ {error}", gr.skip()

    def sources(self, brand: str, request: gr.Request) -> tuple[Rows, str]:
        """The documents and images in the brand's memory, and a line saying how many."""
        brand = brand.strip()
        try:
            self.viewer(request)
            rows = self._source_rows(brand)
        except BriefcraftError as error:
            return [], f"⚠ {error}"
        return rows, (f"Brand {brand!r} has {len(rows)} document(s) and image(s) in memory." if rows
                      else f"Brand {brand!r} has nothing in memory yet.")

    def _source_rows(self, brand: str) -> Rows:
        with self._lock:
            return [[s.source, s.kind, s.role or "", s.chunks, s.flagged, s.ingested_at]
                    for s in self.memory.sources(brand)]

    # the brand kit

    def load_kit(self, brand: str, request: gr.Request) -> tuple[Any, LoadedKit | None, str]:
        """The brand's kit as editable YAML: (the editor's text, what the session loaded, the status line)."""
        brand = brand.strip()
        try:
            viewer = self.viewer(request)
            brand_key(brand)
            with self._lock:
                kit = self.memory.kit(brand)
        except BriefcraftError as error:
            return gr.skip(), gr.skip(), f"⚠ {error}"
        text = kit_yaml(kit or BrandKit(brand=brand))
        line = (f"Brand kit of {brand!r}: {kit_summary(kit)}." if kit else
                f"Brand {brand!r} has no kit yet: add guidelines above, or write one here and save it.")
        note = "" if viewer.decides else f" You can read it; only approvers and admins change it ({viewer.name} is " \
                                         f"a {viewer.role})."
        return text, LoadedKit(brand=brand, yaml=text), line + note

    def refresh_kit(self, brand: str, text: str | None, loaded: LoadedKit | None, request: gr.Request
                    ) -> tuple[Any, LoadedKit | None, str]:
        """Show the brand's kit again (after an upload, on opening the tab), unless the editor holds an unsaved
        edit: that stays, and saving it says when the kit changed meanwhile."""
        if loaded is not None and (text or "").strip() != loaded["yaml"].strip():
            return gr.skip(), gr.skip(), gr.skip()
        return self.load_kit(brand, request)

    def save_kit(self, text: str | None, brand: str, loaded: LoadedKit | None, request: gr.Request
                 ) -> tuple[Any, LoadedKit | None, str]:
        """Save the edited kit: (the saved kit's text, what the session loaded now, the status line). On any error
        the edit stays in the editor and nothing is saved."""
        brand = brand.strip()
        try:
            viewer = self._changer(request)
            brand_key(brand)
            if loaded is None:
                raise ConfigError("load the kit first (Load), then edit it and save")
            if brand_key(loaded["brand"]) != brand_key(brand):
                raise ConfigError(f"the editor holds the kit of brand {loaded['brand']!r}, not of {brand!r}: press "
                                  "Load to edit that one")
            with self._lock:
                current = self.memory.kit(brand) or BrandKit(brand=brand)
                if kit_yaml(current).strip() != loaded["yaml"].strip():
                    raise ConfigError(f"the kit of brand {brand!r} changed since you loaded it (guidelines were "
                                      "added or someone saved an edit): copy your edit, press Load and make it again")
                saved = edit_kit(self.memory, brand, text or "", user=viewer.name, where=repr(brand))
        except BriefcraftError as error:
            return gr.skip(), gr.skip(), f"⚠ Not saved: {error}"
        text = kit_yaml(saved)
        return text, LoadedKit(brand=brand, yaml=text), \
            f"Saved the brand kit of {brand!r} (edited by {viewer.name}): {kit_summary(saved)}."

    # search

    def search(self, query: str, brand: str, k: float, request: gr.Request) -> tuple[Rows, str]:
        """The ``k`` passages of the brand's memory nearest to ``query``: (hits with citations, the status line)."""
        brand = brand.strip()
        try:
            self.viewer(request)
            if k != int(k):
                raise BriefError(f"k={k} is not a whole number; allowed: 1-100")
            with self._lock:
                hits = self.memory.search(query, brand=brand, k=int(k))
        except BriefcraftError as error:
            return [], f"⚠ {error}"
        rows = [[f"{h.score:.3f}", h.source, "flagged" if h.flagged else "", h.text] for h in hits]
        return rows, (f"{len(rows)} passage(s) from brand {brand!r}." if rows else f"no matches in brand {brand!r}")


def _role(value: str | None) -> ImageRole | None:
    """The image role from the radio's value ('none' or empty: no role)."""
    if value in (None, "", "none"):
        return None
    for role in IMAGE_ROLES:
        if value == role:
            return role
    raise IngestError(f"image role {value!r} is not one of: none, {', '.join(IMAGE_ROLES)}")


def _report_row(result: IngestReport | Refused) -> list[Any]:
    """A file's row in the ingest report: file, kind, status, details, flagged passages."""
    if isinstance(result, Refused):
        return [result.source, "", "refused", result.error, ""]
    details = report_summary(result) + (f", {result.pages} page(s)" if result.pages and result.status != "unchanged"
                                        else "")
    return [result.source, result.kind, result.status, details, "\n".join(result.flagged)]


def _upload_line(brand: str, outcome: IngestOutcome) -> str:
    """The status after an upload: how many files went in, what became of the kit, and each refused file's line."""
    lines = [f"Brand {brand!r}: {len(outcome.reports)} of {len(outcome.results)} file(s) ingested."]
    if outcome.kit is not None:
        lines[0] += f" Brand kit re-distilled: {kit_summary(outcome.kit)}."
    if outcome.kit_error is not None:
        lines.append(f"⚠ The brand kit was not re-distilled: {outcome.kit_error}")
    lines += [f"⚠ {refused.error}" for refused in outcome.refused]
    return "\n\n".join(lines)


# --- layout --------------------------------------------------------------------------------------------------


def brand_tab(desk: BrandDesk, tab: gr.Tab) -> None:
    """The Brand tab's components and events; call it inside ``with gr.Tab("Brand", id="brand") as tab:``."""
    mb = f"{desk.settings.max_upload_mb:g}"
    brand = gr.Textbox(desk.settings.brand, elem_id="brand-name", label="Brand")
    gr.Markdown("### Add guidelines and images")
    with gr.Row():
        files = gr.File(file_count="multiple", file_types=UPLOAD_TYPES, elem_id="brand-files", scale=3,
                        label=f"Guidelines and images ({' '.join(UPLOAD_TYPES)}; up to {mb} MB each, {MAX_FILES} "
                              "at once)")
        role = gr.Radio(ROLE_CHOICES, value="none", elem_id="brand-role", scale=2,
                        label="Role of the images (documents take none)")
    upload = gr.Button("Add to brand memory", elem_id="brand-upload", variant="primary")
    status = gr.Markdown(elem_id="brand-status")
    report = gr.Dataframe(headers=REPORT_HEADERS, elem_id="brand-report", label="Ingest report", interactive=False,
                          wrap=True)
    sources = gr.Dataframe(headers=SOURCES_HEADERS, elem_id="brand-sources", label="In memory", interactive=False)

    gr.Markdown("### Brand kit")
    with gr.Row():
        load = gr.Button("Load", elem_id="brand-kit-load")
        save = gr.Button("Save", elem_id="brand-kit-save", variant="primary")
    kit_status = gr.Markdown(elem_id="brand-kit-status")
    kit = gr.Code(language="yaml", interactive=True, elem_id="brand-kit", label="Brand kit (YAML)", lines=12)
    loaded = gr.State(None)

    gr.Markdown("### Search memory")
    with gr.Row():
        query = gr.Textbox(elem_id="brand-query", label="Search", scale=4,
                           placeholder="which colours do we use?")
        k = gr.Slider(1, 20, value=5, step=1, precision=0, label="Passages", scale=1)
        search = gr.Button("Search", elem_id="brand-search", scale=1)
    search_status = gr.Markdown(elem_id="brand-search-status")
    hits = gr.Dataframe(headers=HITS_HEADERS, elem_id="brand-hits", label="Passages", interactive=False, wrap=True)

    upload.click(desk.upload, [files, brand, role], [report, status, sources]).then(
        desk.refresh_kit, [brand, kit, loaded], [kit, loaded, kit_status])
    tab.select(desk.sources, [brand], [sources, status]).then(
        desk.refresh_kit, [brand, kit, loaded], [kit, loaded, kit_status])
    brand.submit(desk.sources, [brand], [sources, status])
    load.click(desk.load_kit, [brand], [kit, loaded, kit_status])
    save.click(desk.save_kit, [kit, brand, loaded], [kit, loaded, kit_status])
    search.click(desk.search, [query, brand, k], [hits, search_status])
    query.submit(desk.search, [query, brand, k], [hits, search_status])
