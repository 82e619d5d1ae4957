"""Brand memory on Chroma: ingest a brand's guidelines and work, recall them with citations, learn from approvals.

Each brand gets its own collections (``brand-<slug>-docs`` for guideline chunks and brand images,
``brand-<slug>-examples`` for approved past work): every read and write is scoped to one brand by
construction, and a per-brand collection answers a query far faster than a metadata filter over a shared one.
Reads and writes go through langchain-chroma's vector store. LangGraph's ``BaseStore`` is not used here: its
namespace/key model would put every brand in one index behind a filter, and it has no all-or-none batch
write for a document's chunks.

The embedded store lives in a directory that one process at a time may open (Chroma's rule); a second
process gets ``MemoryStoreError`` at once. Teams share one ``chroma run`` server by URL instead.
"""

from __future__ import annotations

import csv
import difflib
import fcntl
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import urlparse

from pydantic import BaseModel

from briefcraft.errors import BriefError, IngestError, MemoryStoreError
from briefcraft.memory.ingest import (
    Chunk,
    ParsedDocument,
    chunk_document,
    citation,
    injection_phrases,
    read_document,
)
from briefcraft.memory.kit import kit_rules, load_kit
from briefcraft.schemas import (
    IMAGE_ROLES,
    KIT_FIELDS,
    BrandContext,
    BrandKit,
    BrandSnippet,
    Cited,
    CopyVariant,
    CreativeBrief,
    ImageAsset,
    ImageRole,
    KitItem,
    ReferenceImage,
    brand_key,
)

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection
    from chromadb.api.types import Documents, EmbeddingFunction
    from langchain_chroma import Chroma

    from briefcraft.settings import Settings

__all__ = [
    "DEFAULT_PALETTE",
    "BrandMemory",
    "ChromaBrandMemory",
    "DefaultBrandMemory",
    "IngestReport",
    "MemoryHit",
    "SourceInfo",
    "open_memory",
]

#: Navy, saffron, coral, cream: the palette used when a brand has none on record.
DEFAULT_PALETTE = ("#1F3A5F", "#F2C14E", "#F78154", "#FDF6E3")
#: How recall weighs an example's past performance and audience match against its similarity.
PERFORMANCE_WEIGHT = 0.3
AUDIENCE_WEIGHT = 0.2
#: A conversion counts this many clicks when performance is scored.
CONVERSION_CLICKS = 5
#: How a lost Chroma server shows in errors from chromadb (ValueError) and httpx (ConnectError).
_UNREACHABLE = ("could not connect", "connecterror", "connection refused", "all connection attempts failed",
                "connection reset", "remoteprotocolerror", "readtimeout", "connecttimeout")
_GUIDANCE_QUERY = "brand voice and tone: how we write, words we use and avoid"
_VISUAL_QUERY = "visual style: colours, photography, imagery, logo and typography rules"


class BrandMemory(Protocol):
    """What the graph needs from brand memory: recall for a brief, and learning from approved work."""

    def recall(self, brief: CreativeBrief) -> BrandContext:
        """The brand context for ``brief`` (its ``brand`` names the scope)."""
        ...

    def remember(self, brief: CreativeBrief, items: list[CopyVariant | ImageAsset], *, thread_id: str) -> int:
        """Store approved items as examples for the brief's brand; returns how many were new."""
        ...


class DefaultBrandMemory:
    """Brand memory for an install without the ``memory`` extra: house defaults, nothing learned."""

    def recall(self, brief: CreativeBrief) -> BrandContext:
        """The house defaults, cited as such."""
        return _defaults(brief.brand, "briefcraft defaults: brand memory is not installed (pip install "
                                      "'briefcraft[memory]')")

    def remember(self, brief: CreativeBrief, items: list[CopyVariant | ImageAsset], *, thread_id: str) -> int:
        """Nothing is stored without brand memory installed."""
        return 0


def _image_role(value: object) -> ImageRole | None:
    """The role a stored image's metadata gives ("" for none)."""
    return next((role for role in IMAGE_ROLES if role == value), None)


def _collection_names(client: ClientAPI) -> set[str]:
    """The names of the client's collections (Chroma lists names or collection objects, by version)."""
    return {c if isinstance(c, str) else c.name for c in client.list_collections()}


def _defaults(brand: str, why: str) -> BrandContext:
    return BrandContext(brand=brand, palette=list(DEFAULT_PALETTE), citations=[why], remembered=False)


class IngestReport(BaseModel):
    """What adding one file did."""

    source: str
    kind: Literal["document", "image"]
    status: Literal["added", "replaced", "unchanged"]
    chunks: int
    pages: int | None = None
    sha256: str
    flagged: list[str] = []
    kit_items: int = 0
    palette: list[tuple[str, float]] = []
    phash: str | None = None
    size: tuple[int, int] | None = None
    role: ImageRole | None = None
    """An image's role after the add: ``protected``, ``competitor`` or none."""


class SourceInfo(BaseModel):
    """One document or image in a brand's memory."""

    source: str
    kind: Literal["document", "image"]
    media_type: str
    chunks: int
    sha256: str
    ingested_at: str
    flagged: int
    role: ImageRole | None = None


class MemoryHit(BaseModel):
    """A search result: the passage, where it came from, and its similarity (1 is identical)."""

    text: str
    source: str
    score: float
    kind: str
    flagged: bool


def open_memory(settings: Settings) -> BrandMemory:
    """Chroma brand memory when the ``memory`` extra is installed, else the house defaults."""
    try:
        import chromadb  # noqa: F401
    except ImportError:
        return DefaultBrandMemory()
    return ChromaBrandMemory(settings)


class ChromaBrandMemory:
    """Brand memory in Chroma (embedded in ``settings.memory_dir`` or a server at ``settings.memory_url``).

    Opens lazily on first use; ``close()`` (or ``with``) releases the embedded store for other processes.
    """

    def __init__(self, settings: Settings, *, embedding_function: EmbeddingFunction[Documents] | None = None):
        self.settings = settings
        self._function = embedding_function
        self._client: ClientAPI | None = None
        self._lock: Path | None = None
        # Gradio handlers and parallel graph branches open the store from several threads: one opening at a time
        # (chromadb's client set-up is not thread-safe, and each opening takes the directory lock once).
        self._opening = threading.RLock()
        self._stores: dict[str, Chroma] = {}
        self._collections: dict[str, Collection] = {}

    # --- connection ----------------------------------------------------------------------------------

    def __enter__(self) -> ChromaBrandMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def location(self) -> str:
        """Where this memory lives, as a user would write it."""
        return self.settings.memory_url or str(self.settings.memory_dir)

    def _embedding_function(self) -> EmbeddingFunction[Documents]:
        if self._function is None:
            from briefcraft.memory.embeddings import make_embedding_function

            self._function = make_embedding_function(self.settings)
        return self._function

    def _open(self) -> ClientAPI:
        with self._opening:
            return self._client if self._client is not None else self._connect()

    def _connect(self) -> ClientAPI:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        url = self.settings.memory_url
        with self._reachable():
            if url:
                parsed = urlparse(url)
                self._client = chromadb.HttpClient(
                    host=parsed.hostname or "127.0.0.1", port=parsed.port or (443 if parsed.scheme == "https" else 80),
                    ssl=parsed.scheme == "https", settings=chroma_settings,
                )
            else:
                directory = self.settings.memory_dir
                directory.mkdir(parents=True, exist_ok=True)
                self._lock = _lock(directory)
                try:
                    self._client = chromadb.PersistentClient(path=str(directory), settings=chroma_settings)
                except BaseException:
                    self._release()
                    raise
        return self._client

    def close(self) -> None:
        """Release the store (and, embedded, its directory lock)."""
        with self._opening:
            self._stores.clear()
            self._collections.clear()
            self._client = None
            self._release()

    def _release(self) -> None:
        if self._lock is not None:
            _unlock(self._lock)
            self._lock = None

    @contextmanager
    def _reachable(self) -> Iterator[None]:
        """Turn a lost Chroma server into one clear error naming the setting."""
        try:
            yield
        except Exception as error:
            text = f"{type(error).__name__}: {error}"
            if not isinstance(error, ConnectionError) and not any(s in text.lower() for s in _UNREACHABLE):
                raise
            raise MemoryStoreError(
                f"brand memory at {self.location} is not reachable ({text}); start it (`chroma run --path DIR "
                "--port PORT`) or fix BRIEFCRAFT_MEMORY_LOCATION"
            ) from error

    def _store(self, brand: str, kind: Literal["docs", "examples"], *, create: bool) -> Chroma | None:
        """The brand's vector store of ``kind``; None when it does not exist and ``create`` is false."""
        name = f"brand-{brand_key(brand)}-{kind}"
        with self._opening:
            return self._stores[name] if name in self._stores else self._make_store(brand, kind, name, create=create)

    def _make_store(self, brand: str, kind: Literal["docs", "examples"], name: str, *, create: bool
                    ) -> Chroma | None:
        from langchain_chroma import Chroma

        from briefcraft.memory.embeddings import ChromaEmbeddings, embedding_policy

        client = self._open()
        function = self._embedding_function()
        with self._reachable():
            if not create and name not in _collection_names(client):
                return None
            # Created here, with our registered embedding function, so any process can reopen it by name;
            # langchain-chroma then works on the existing collection.
            collection = client.get_or_create_collection(
                name, embedding_function=function,  # type: ignore[arg-type]
                configuration={"hnsw": {"space": "cosine"}}, metadata={"brand": brand, "embeddings": function.name()},
            )
            # Recorded in metadata too: Chroma does not persist every function's config (OpenAI's with a key given
            # directly), nor does it refuse a different function on reopening.
            built_with = (collection.metadata or {}).get("embeddings") or (
                collection.configuration_json.get("embedding_function") or {}
            ).get("name")
            if built_with != function.name():
                raise MemoryStoreError(
                    f"brand memory collection {name} was built with {built_with} embeddings, not "
                    f"{function.name()} (BRIEFCRAFT_EMBEDDINGS={self.settings.embeddings}); use the same setting, "
                    "or re-ingest into another BRIEFCRAFT_MEMORY_LOCATION"
                )
            store = Chroma(
                client=client, collection_name=name,
                embedding_function=ChromaEmbeddings(function, embedding_policy(self.settings)),
                create_collection_if_not_exists=False,
            )
        self._stores[name] = store
        self._collections[name] = collection
        return store

    def brands(self) -> list[str]:
        """The storage keys (``brand_key``) of the brands with guidelines or images in memory, sorted."""
        client = self._open()
        with self._reachable():
            names = _collection_names(client)
        return sorted(m.group(1) for name in names if (m := re.fullmatch(r"brand-(.+)-docs", name)))

    def _collection(self, brand: str, kind: Literal["docs", "examples"]) -> Collection:
        """The raw Chroma collection behind an opened store, for what the vector store has no call for."""
        return self._collections[f"brand-{brand_key(brand)}-{kind}"]

    # --- documents -----------------------------------------------------------------------------------

    def add(self, path: Path, *, brand: str, name: str | None = None, role: ImageRole | None = None) -> IngestReport:
        """Ingest one file for ``brand``: all its chunks or none; unchanged content is a no-op.

        ``role`` marks an image as the brand's ``protected`` work or a ``competitor``'s: new images are checked
        for near-duplicates of it. Adding an unchanged image again with another role changes only the role.
        """
        document = read_document(path, max_bytes=int(self.settings.max_upload_mb * 1e6), name=name)
        if role is not None and document.kind != "image":
            raise IngestError(f"{document.source}: only images take a role ({', '.join(IMAGE_ROLES)}); "
                              "this is a document")
        chunks = chunk_document(document) if document.kind == "document" else []
        store = self._store(brand, "docs", create=True)
        assert store is not None
        with self._reachable():
            current = store.get(where={"$and": [{"source": document.source}, {"chunk": 0}]}, include=["metadatas"])
            shas = {m["sha"] for m in current["metadatas"] or []}
            stale = {"$and": [{"source": document.source}, {"sha": {"$ne": document.sha256}}]}
            had = next((_image_role(m.get("role")) for m in current["metadatas"] or [] if m.get("role")), None)
            if document.sha256 in shas:
                store.delete(where=stale)  # leftovers of an interrupted replace
                first = current["metadatas"][0] if current["metadatas"] else {}
                if role is not None and first.get("role") != role:
                    ids = store.get(where={"$and": [{"source": document.source}, {"chunk": 0}]})["ids"]
                    self._collection(brand, "docs").update(ids=ids, metadatas=[{**first, "role": role}] * len(ids))
                return self._report(document, "unchanged", chunks, role=role or had)
            role = role or had  # a changed image keeps its role unless given another
            texts, metadatas = self._records(document, chunks, brand, role)
            limit = self._open().get_max_batch_size()
            if len(texts) > limit:
                raise IngestError(f"{document.source}: {len(texts)} chunks; one document may have at most {limit}")
            source_id = hashlib.sha1(document.source.encode()).hexdigest()[:10]
            ids = [f"{source_id}-{document.sha256[:16]}-{i}" for i in range(len(texts))]
            # One upsert holds the whole document, so a failure leaves none of it; the old version goes after.
            store.add_texts(texts, metadatas=metadatas, ids=ids)
            store.delete(where=stale)
        return self._report(document, "replaced" if shas else "added", chunks,
                            kit_items=len(json.loads(str(metadatas[0]["kit"]))), role=role)

    def _records(self, document: ParsedDocument, chunks: list[Chunk], brand: str, role: ImageRole | None = None
                 ) -> tuple[list[str], list[dict[str, Any]]]:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        common = {"source": document.source, "sha": document.sha256, "kind": document.kind, "brand": brand}
        first: dict[str, Any] = {
            "media_type": document.media_type, "size": document.size, "ingested_at": now,
            "pages": document.pages or 0,
        }
        if document.image is not None:
            info = document.image
            asset = self._save_asset(brand, document)
            colours = ", ".join(f"{hex_} {share:.0%}" for hex_, share in info.palette)
            text = f"Image {document.source}, {info.width}x{info.height} pixels; dominant colours {colours}."
            first |= {"palette": json.dumps(info.palette), "phash": info.phash, "width": info.width,
                      "height": info.height, "path": str(asset), "citation": document.source, "injection": "",
                      "flagged": 0, "kit": "[]", "chunks": 1, "role": role or ""}
            return [text], [common | first | {"chunk": 0, "page": 0, "section": ""}]
        sections = [(citation(document.source, s.page, s.heading), s.heading, s.text) for s in document.sections]
        # A rule line that reads like an instruction to a model (flagged in the ingest report) never becomes a kit
        # rule: it would otherwise be put into every piece of copy as a "required disclaimer".
        found = {field: [item for item in items if not injection_phrases(item.value)]
                 for field, items in kit_rules(sections).items()}
        kit = [item.model_dump() | {"field": field} for field, items in found.items() for item in items]
        first |= {"kit": json.dumps(kit), "chunks": len(chunks), "flagged": sum(1 for c in chunks if c.injection)}
        metadatas = [
            common | {
                "chunk": chunk.index, "page": chunk.page or 0, "section": " > ".join(chunk.heading),
                "citation": citation(document.source, chunk.page, chunk.heading),
                "injection": "; ".join(chunk.injection),
            } | (first if chunk.index == 0 else {})
            for chunk in chunks
        ]
        return [chunk.text for chunk in chunks], metadatas

    def _save_asset(self, brand: str, document: ParsedDocument) -> Path:
        """Keep the image itself, content-addressed, beside the memory (idempotent)."""
        folder = self.settings.memory_dir / "assets" / brand_key(brand)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{document.sha256}{Path(document.source).suffix.lower()}"
        if not path.exists():
            temp = path.with_suffix(".part")
            temp.write_bytes(document.data)
            os.replace(temp, path)
        return path

    @staticmethod
    def _report(document: ParsedDocument, status: Literal["added", "replaced", "unchanged"], chunks: list[Chunk],
                *, kit_items: int = 0, role: ImageRole | None = None) -> IngestReport:
        flagged = [
            f"{citation(document.source, chunk.page, chunk.heading)}: {'; '.join(chunk.injection)}"
            for chunk in chunks if chunk.injection
        ]
        image = document.image
        return IngestReport(
            source=document.source, kind=document.kind, status=status,
            chunks=0 if status == "unchanged" else max(len(chunks), 1), pages=document.pages,
            sha256=document.sha256, flagged=flagged, kit_items=kit_items,
            palette=list(image.palette) if image else [], phash=image.phash if image else None,
            size=(image.width, image.height) if image else None, role=role,
        )

    def sources(self, brand: str) -> list[SourceInfo]:
        """Every document and image stored for ``brand``, by name."""
        store = self._store(brand, "docs", create=False)
        if store is None:
            return []
        with self._reachable():
            found = store.get(where={"chunk": 0}, include=["metadatas"])
        latest: dict[str, dict[str, Any]] = {}
        for meta in found["metadatas"] or []:
            if str(meta["ingested_at"]) >= str(latest.get(str(meta["source"]), {}).get("ingested_at", "")):
                latest[str(meta["source"])] = dict(meta)
        return [
            SourceInfo(source=source, kind=meta["kind"], media_type=meta["media_type"], chunks=meta["chunks"],
                       sha256=meta["sha"], ingested_at=meta["ingested_at"], flagged=meta["flagged"],
                       role=_image_role(meta.get("role")))
            for source, meta in sorted(latest.items())
        ]

    def remove(self, source: str, *, brand: str) -> int:
        """Remove a document or image (all its chunks) from ``brand``; returns how many chunks went."""
        store = self._store(brand, "docs", create=False)
        known = {info.source: info for info in self.sources(brand)} if store is not None else {}
        if store is None or source not in known:
            names = ", ".join(sorted(known)) or "none"
            raise IngestError(f"brand {brand!r} has no source {source!r}; stored: {names}")
        with self._reachable():
            found = store.get(where={"source": source}, include=["metadatas"])
            store.delete(ids=found["ids"])
        return len(found["ids"])

    def search(self, query: str, *, brand: str, k: int = 5) -> list[MemoryHit]:
        """The ``k`` passages of ``brand``'s memory most similar to ``query``."""
        if not query.strip():
            raise BriefError("the search query is empty")
        store = self._store(brand, "docs", create=False)
        if store is None:
            return []
        assert store.embeddings is not None  # always set by _store
        with self._reachable():
            vector = store.embeddings.embed_query(query)
        return self.search_by_vector(vector, brand=brand, k=k)

    def search_by_vector(self, vector: list[float], *, brand: str, k: int = 5,
                         where: dict[str, Any] | None = None) -> list[MemoryHit]:
        """Like ``search`` with the query already embedded."""
        if not 1 <= k <= 100:
            raise BriefError(f"k={k} is out of range; allowed: 1-100")
        store = self._store(brand, "docs", create=False)
        if store is None:
            return []
        with self._reachable():
            found = store.similarity_search_by_vector_with_relevance_scores(vector, k=k, filter=where)
        return [
            MemoryHit(text=doc.page_content, source=str(doc.metadata["citation"]), score=round(1 - distance, 4),
                      kind=str(doc.metadata["kind"]), flagged=bool(doc.metadata.get("injection")))
            for doc, distance in found
        ]

    # --- brand kit -----------------------------------------------------------------------------------

    def kit_path(self, brand: str) -> Path:
        """The brand kit's YAML file."""
        return self.settings.memory_dir / "kits" / f"{brand_key(brand)}.yaml"

    def kit(self, brand: str) -> BrandKit | None:
        """The brand's kit, or None before anything was distilled."""
        return load_kit(self.kit_path(brand))

    def kit_rules(self, brand: str) -> dict[str, list[KitItem]]:
        """Kit items the patterns found in every stored guideline, by kit field."""
        found: dict[str, list[KitItem]] = {name: [] for name in KIT_FIELDS}
        store = self._store(brand, "docs", create=False)
        if store is None:
            return found
        with self._reachable():
            firsts = store.get(where={"$and": [{"chunk": 0}, {"kind": "document"}]}, include=["metadatas"])
        for meta in sorted(firsts["metadatas"] or [], key=lambda m: str(m["source"])):
            for item in json.loads(str(meta["kit"])):
                found[item.pop("field")].append(KitItem.model_validate(item))
        return found

    def logo(self, brand: str) -> Path | None:
        """The brand's logo: the most recently stored image whose file name says 'logo'."""
        store = self._store(brand, "docs", create=False)
        if store is None:
            return None
        with self._reachable():
            images = store.get(where={"$and": [{"chunk": 0}, {"kind": "image"}]}, include=["metadatas"])
        logos = [m for m in images["metadatas"] or [] if "logo" in Path(str(m["source"])).stem.lower()]
        latest = max(logos, key=lambda m: (str(m["ingested_at"]), str(m["source"])), default=None)
        return Path(str(latest["path"])) if latest else None

    def references(self, brand: str) -> list[ReferenceImage]:
        """The brand's protected and competitor images (added with a role), for near-duplicate checks."""
        store = self._store(brand, "docs", create=False)
        if store is None:
            return []
        with self._reachable():
            where = {"$and": [{"chunk": 0}, {"role": {"$in": list(IMAGE_ROLES)}}]}
            found = store.get(where=where, include=["metadatas"])  # type: ignore[arg-type]
        return sorted(
            (ReferenceImage(source=str(m["source"]), phash=str(m["phash"]), role=m["role"])
             for m in found["metadatas"] or []),
            key=lambda ref: ref.source,
        )

    def guidance(self, brand: str, query: str, *, k: int = 3) -> list[BrandSnippet]:
        """Guideline passages (never ones flagged as instructions to a model) for ``query``."""
        store = self._store(brand, "docs", create=False)
        if store is None:
            return []
        where = {"$and": [{"kind": "document"}, {"injection": ""}]}
        with self._reachable():
            found = store.similarity_search_with_score(query, k=k, filter=where)  # type: ignore[arg-type]
        return [
            BrandSnippet(text=doc.page_content, source=str(doc.metadata["citation"]), score=round(1 - distance, 4))
            for doc, distance in found
        ]

    # --- recall and learning -------------------------------------------------------------------------

    def rules(self, brand: str) -> BrandContext | None:
        """The brand's kit as a context (voice, palette, rules, logo, reference images), without recalled
        passages; None when the brand has nothing in memory."""
        kit = self.kit(brand)
        if kit is None and self._store(brand, "docs", create=False) is None:
            return None

        def cited(items: list[KitItem]) -> list[Cited]:
            return [Cited(value=item.value, source=item.source) for item in items]

        palette = [item.value for item in kit.palette] if kit and kit.palette else []
        citations = sorted({item.source for name in KIT_FIELDS for item in getattr(kit, name, [])})
        if not palette:
            citations.append("briefcraft defaults: palette (none in the brand kit)")
        return BrandContext(
            brand=brand,
            voice=[item.value for item in kit.voice] if kit else [],
            palette=palette or list(DEFAULT_PALETTE),
            fonts=[item.value for item in kit.fonts] if kit else [],
            logo=str(logo) if (logo := self.logo(brand)) else None,
            forbidden_terms=cited(kit.forbidden_terms) if kit else [],
            dont_words=cited(kit.dont_words) if kit else [],
            required_disclaimers=cited(kit.required_disclaimers) if kit else [],
            product_names=cited(kit.product_names) if kit else [],
            competitors=cited(kit.competitors) if kit else [],
            contacts=cited(kit.contacts) if kit else [],
            style_rules=cited(kit.style_rules) if kit else [],
            citations=citations, style_loras=kit.style_loras if kit else [], references=self.references(brand),
        )

    def recall(self, brief: CreativeBrief) -> BrandContext:
        """The brand's kit, guideline passages for copy and visuals, and its best past examples per channel."""
        context = self.rules(brief.brand)
        if context is None:  # a new brand, or a misspelt one: name the stored brands it is close to
            close = difflib.get_close_matches(brand_key(brief.brand), self.brands(), n=3, cutoff=0.6)
            return _defaults(brief.brand, f"briefcraft defaults: no brand memory for {brief.brand!r} yet"
                             + (f" (brand memory holds {', '.join(map(repr, close))})" if close else ""))
        guidance = self.guidance(brief.brand, f"{_GUIDANCE_QUERY} {' '.join(brief.tone)} {brief.audience}")
        visual = self.guidance(brief.brand, _VISUAL_QUERY)
        examples = [e for channel in brief.channels for e in self.examples(brief, channel)]
        citations = sorted({*context.citations, *(s.source for s in [*guidance, *visual, *examples])},
                           key=lambda c: (c.startswith("briefcraft defaults"), c))
        return context.model_copy(update={
            "guidance": guidance, "visual_rules": visual, "examples": examples, "citations": citations,
        })

    def examples(self, brief: CreativeBrief, channel: str, *, k: int = 2) -> list[BrandSnippet]:
        """Approved past copy for ``channel``, ranked by similarity, past performance and audience match."""
        store = self._store(brief.brand, "examples", create=False)
        if store is None:
            return []
        query = f"{brief.product}. {brief.audience}. {' '.join(brief.key_messages)}"
        with self._reachable():
            found = store.similarity_search_with_score(
                query, k=4 * k, filter={"$and": [{"channel": channel}, {"kind": "copy"}]},  # type: ignore[dict-item]
            )
        rates = [_rate(doc.metadata) for doc, _ in found]
        best = max(rates, default=0.0) or 1.0
        ranked = sorted(
            (
                (1 - distance) + PERFORMANCE_WEIGHT * rate / best
                + AUDIENCE_WEIGHT * _overlap(brief.audience, str(doc.metadata.get("audience", ""))),
                doc,
            )
            for (doc, distance), rate in zip(found, rates, strict=True)
        )
        return [
            BrandSnippet(text=doc.page_content, source=f"approved: {doc.metadata['asset_id']}",
                         score=round(score, 4), channel=channel)
            for score, doc in reversed(ranked[-k:])
        ]

    def remember(self, brief: CreativeBrief, items: list[CopyVariant | ImageAsset], *, thread_id: str) -> int:
        """Store approved items as examples tagged with the brief and channel; re-running adds nothing twice."""
        store = self._store(brief.brand, "examples", create=True)
        assert store is not None
        ids = [f"{thread_id}/{item.id}" for item in items]
        with self._reachable():
            existing = set(store.get(ids=ids, include=[])["ids"]) if ids else set()
            new = [(asset_id, item) for asset_id, item in zip(ids, items, strict=True) if asset_id not in existing]
            if not new:
                return 0
            now = datetime.now(UTC).isoformat(timespec="seconds")
            store.add_texts(
                [_example_text(item) for _, item in new],
                metadatas=[
                    {"asset_id": asset_id, "thread_id": thread_id, "item_id": item.id, "channel": item.channel,
                     "kind": "copy" if isinstance(item, CopyVariant) else "image", "product": brief.product,
                     "audience": brief.audience, "approved_at": now, "impressions": 0, "clicks": 0,
                     "conversions": 0}
                    for asset_id, item in new
                ],
                ids=[asset_id for asset_id, _ in new],
            )
        return len(new)

    def import_metrics(self, path: Path, *, brand: str) -> int:
        """Attach performance from a CSV (asset_id, impressions, clicks, conversions); all rows or none."""
        rows = _read_metrics(path)
        store = self._store(brand, "examples", create=False)
        known = set(store.get(ids=[r[0] for r in rows], include=[])["ids"]) if store and rows else set()
        unknown = [asset_id for asset_id, *_ in rows if asset_id not in known]
        if store is None or unknown:
            raise IngestError(
                f"{path.name}: asset id {(unknown or [rows[0][0]])[0]!r} is not an approved example of brand "
                f"{brand!r} (asset ids are THREAD/ITEM, as in the pack's manifest)"
            )
        with self._reachable():
            self._collection(brand, "examples").update(
                ids=[r[0] for r in rows],
                metadatas=[{"impressions": i, "clicks": c, "conversions": v} for _, i, c, v in rows],
            )
        return len(rows)


#: Directory -> (descriptor, users): Chroma's one-writer rule is per process, so the flock is too, shared by
#: every ``ChromaBrandMemory`` of this process on that directory.
_LOCKS: dict[Path, tuple[int, int]] = {}
_LOCKS_GUARD = threading.Lock()


def _lock(directory: Path) -> Path:
    """Take (or share) this process's exclusive lock on an embedded store; another process fails at once."""
    key = directory.resolve()
    with _LOCKS_GUARD:
        if key in _LOCKS:
            handle, users = _LOCKS[key]
            _LOCKS[key] = (handle, users + 1)
            return key
        handle = os.open(key / "briefcraft.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(handle, 32).decode(errors="replace").strip() or "unknown"
            os.close(handle)
            raise MemoryStoreError(
                f"brand memory at {directory} is in use by another process (pid {holder}); stop it, or share the "
                "memory through a Chroma server (`chroma run --path DIR`, BRIEFCRAFT_MEMORY_LOCATION=http://HOST:PORT)"
            ) from None
        os.ftruncate(handle, 0)
        os.write(handle, str(os.getpid()).encode())
        _LOCKS[key] = (handle, 1)
        return key


def _unlock(key: Path) -> None:
    with _LOCKS_GUARD:
        handle, users = _LOCKS[key]
        if users > 1:
            _LOCKS[key] = (handle, users - 1)
        else:
            del _LOCKS[key]
            os.close(handle)  # closing the descriptor drops the flock


def _example_text(item: CopyVariant | ImageAsset) -> str:
    if isinstance(item, CopyVariant):
        return "\n".join(f"{name}: {' | '.join(values)}" for name, values in item.fields.items() if values)
    return f"{item.headline}\n{item.alt_text}"


def _rate(metadata: dict[str, Any]) -> float:
    impressions = int(metadata.get("impressions", 0))
    if impressions <= 0:
        return 0.0
    return (int(metadata.get("clicks", 0)) + CONVERSION_CLICKS * int(metadata.get("conversions", 0))) / impressions


def _overlap(a: str, b: str) -> float:
    words_a, words_b = set(re.findall(r"\w+", a.casefold())), set(re.findall(r"\w+", b.casefold()))
    return len(words_a & words_b) / len(words_a | words_b) if words_a and words_b else 0.0


def _read_metrics(path: Path) -> list[tuple[str, int, int, int]]:
    columns = ("asset_id", "impressions", "clicks", "conversions")
    if not path.is_file():
        raise IngestError(f"no such metrics file: {path}")
    with path.open(newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise IngestError(f"{path.name}: missing column(s) {', '.join(missing)}; needed: {', '.join(columns)}")
        rows: list[tuple[str, int, int, int]] = []
        for line, row in enumerate(reader, start=2):
            try:
                impressions, clicks, conversions = (int(row[c]) for c in columns[1:])
            except (TypeError, ValueError):
                raise IngestError(f"{path.name} line {line}: impressions, clicks and conversions must be whole "
                                  "numbers") from None
            if min(impressions, clicks, conversions) < 0 or clicks > impressions:
                raise IngestError(f"{path.name} line {line}: counts must be >= 0 and clicks <= impressions")
            rows.append((row["asset_id"].strip(), impressions, clicks, conversions))
    if not rows:
        raise IngestError(f"{path.name}: no rows")
    return rows
