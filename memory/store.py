"""Brand memory as the graph sees it: ``recall`` gives the brand context a brief needs.

Until the [memory] issue brings the Chroma store, ``DefaultBrandMemory`` answers every brand with the
house defaults and says so in its citations.
"""

from __future__ import annotations

from typing import Protocol

from briefcraft.schemas import BrandContext, CreativeBrief

__all__ = ["DEFAULT_PALETTE", "BrandMemory", "DefaultBrandMemory"]

#: Navy, saffron, coral, cream: the palette used when a brand has none on record.
DEFAULT_PALETTE = ("#1F3A5F", "#F2C14E", "#F78154", "#FDF6E3")


class BrandMemory(Protocol):
    """Anything that can recall a brand's context for a brief."""

    def recall(self, brief: CreativeBrief) -> BrandContext:
        """The brand context for ``brief`` (its ``brand`` names the scope)."""
        ...


class DefaultBrandMemory:
    """A brand memory with no stored brands: every brief gets the default palette and no voice rules."""

    def recall(self, brief: CreativeBrief) -> BrandContext:
        """The house defaults, cited as such."""
        return BrandContext(
            brand=brief.brand, palette=list(DEFAULT_PALETTE),
            citations=["briefcraft defaults: no brand memory configured"],
        )
