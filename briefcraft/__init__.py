"""briefcraft: an agentic creative-brief assistant.

    from briefcraft import build_graph
    graph = build_graph()   # local model, SQLite checkpoints, offline layout renderer

``build_graph`` is imported lazily: the core (schemas, settings, errors, channels) loads without the graph.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from briefcraft.errors import BriefcraftError
from briefcraft.schemas import CreativeBrief, ReviewDecision
from briefcraft.settings import Settings

if TYPE_CHECKING:
    from briefcraft.graphs.brief_graph import build_graph

__all__ = ["BriefcraftError", "CreativeBrief", "ReviewDecision", "Settings", "build_graph"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Lazy so that `import briefcraft` stays light and briefcraft.graphs can import the core freely.
    if name == "build_graph":
        from briefcraft.graphs.brief_graph import build_graph

        return build_graph
    raise AttributeError(f"module 'briefcraft' has no attribute {name!r}")
