"""Benchmark fixtures shared by the benchmark scripts: a chat model that answers every structured call at once."""

from __future__ import annotations

import json
import re
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from briefcraft.agents.copywriter import fit
from briefcraft.agents.prompts import COPY_SYSTEM, INTAKE_SYSTEM, REVIEW_SYSTEM

__all__ = ["FastChat"]

_FIELD = re.compile(r"(\w+) \((?:(\d+) x )?max (\d+) chars[^)]*\)")
_LINES = ("Smooth oat cold brew for the morning ride", "Slow-steeped overnight and ready when you are",
          "Cold, calm and on the move", "Your new morning ritual in Berlin", "Pick one up at the kiosk")


class FastChat(BaseChatModel):
    """A chat model that answers every call at once with valid JSON for what its prompt asks (a benchmark fixture:
    intake's brief draft, a channel's copy fields as the prompt lists them, an empty compliance review)."""

    @property
    def _llm_type(self) -> str:
        return "bench-fast"

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        system, prompt = messages[0].text, messages[1].text
        reply: dict[str, Any]
        if system == INTAKE_SYSTEM:
            reply = {"product": "oat-milk cold brew", "objective": "", "audience": "", "key_messages": [], "tone": []}
        elif system == COPY_SYSTEM:
            reply = {}
            for name, count, limit in _FIELD.findall(prompt.split("Write these fields:", 1)[1].splitlines()[0]):
                values = [fit(_LINES[i % len(_LINES)], min(int(limit), 180)) for i in range(int(count or 1))]
                reply[name] = values if count else values[0]
        elif system == REVIEW_SYSTEM:
            reply = {"concerns": []}
        else:
            raise ValueError(f"the benchmark's fake model has no reply for the system prompt {system[:60]!r}")
        return ChatResult(generations=[ChatGeneration(message=AIMessage(json.dumps(reply)))])
