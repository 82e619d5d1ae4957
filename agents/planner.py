"""Planner: a brief becomes subtasks, one copy subtask per channel and variant, one visual per image channel and
variant.

Planning is code, not a model call: which channels and sizes exist is catalog data, and a plan that can
drop or invent a channel would break the promise that every channel in the brief gets its deliverables.
"""

from __future__ import annotations

from briefcraft.channels import get_channel
from briefcraft.schemas import CreativeBrief, Subtask

__all__ = ["plan_subtasks"]


def plan_subtasks(brief: CreativeBrief, copy_variants: int, image_variants: int = 1) -> list[Subtask]:
    """Copy subtasks (``copy_variants`` per channel), then visuals (``image_variants`` per channel that takes
    images)."""
    subtasks: list[Subtask] = []
    if "copy" in brief.deliverables:
        subtasks += [
            Subtask(id=f"copy-{channel}-{n}", kind="copy", channel=channel, variant=n)
            for channel in brief.channels
            for n in range(1, copy_variants + 1)
        ]
    if "image" in brief.deliverables:
        subtasks += [
            Subtask(id=f"img-{channel}-{n}", kind="visual", channel=channel, variant=n)
            for channel in brief.channels
            if get_channel(channel).images
            for n in range(1, image_variants + 1)
        ]
    return subtasks
