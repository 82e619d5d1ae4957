"""Brand kit distillation: the rules guidelines state outright, plus voice words the model reads from them.

Patterns (``briefcraft.memory.kit``) find labelled lists and hex colours; the model proposes voice words from
the guideline passages about voice. A proposed word is kept only when it appears in those passages, so the
model can point at the guidelines but never invent a rule; each keeps the passages' citation.
"""

from __future__ import annotations

import re

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from briefcraft.agents.llm import ModelCall, invoke_structured
from briefcraft.agents.prompts import KIT_SYSTEM, KIT_USER
from briefcraft.memory.kit import distill, save_kit
from briefcraft.memory.store import ChromaBrandMemory
from briefcraft.schemas import AuditEvent, BrandKit, KitItem

__all__ = ["distill_kit"]

_VOICE_QUERY = "brand voice, tone and personality: how we sound"
_PASSAGE_CHARS = 600


class _VoiceDraft(BaseModel):
    voice: list[str] = Field(default_factory=list, max_length=5, description="Single words.")


def distill_kit(
    memory: ChromaBrandMemory, brand: str, model: BaseChatModel, *, who: ModelCall
) -> tuple[BrandKit, list[AuditEvent]]:
    """Distil ``brand``'s kit from everything in its memory, keep people's edits, and save it."""
    found = memory.kit_rules(brand)
    passages = memory.guidance(brand, _VOICE_QUERY, k=2)
    audit: list[AuditEvent] = []
    if passages:
        text = "\n\n".join(p.text[:_PASSAGE_CHARS] for p in passages)
        draft, audit = invoke_structured(
            model, _VoiceDraft, [SystemMessage(KIT_SYSTEM), HumanMessage(KIT_USER.format(passages=text))],
            who=who, node="distill_kit",
        )
        source = "; ".join(dict.fromkeys(p.source for p in passages))
        found["voice"] = found.get("voice", []) + [
            KitItem(value=word.strip(), source=source, origin="model")
            for word in draft.voice
            if word.strip() and re.search(rf"(?<!\w){re.escape(word.strip())}(?!\w)", text, re.IGNORECASE)
        ]
    kit = distill(brand, found, memory.kit(brand))
    save_kit(memory.kit_path(brand), kit)
    return kit, audit
