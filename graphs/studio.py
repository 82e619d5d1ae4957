"""Entry point for ``langgraph dev`` and LangGraph Studio, named in ``langgraph.json``.

The server loads this file by path; it imports the installed ``briefcraft`` package, so the graph's own
modules are loaded once, under their real names.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph.state import CompiledStateGraph

from briefcraft.graphs.brief_graph import build_graph

__all__ = ["studio_graph"]


def studio_graph() -> CompiledStateGraph[Any, Any, Any, Any]:
    """The brief graph without our checkpointer (the LangGraph server brings its own), its packs confined to
    DATA_DIR/packs (the server's clients choose no paths on its host)."""
    return build_graph(checkpointer=False, confine_packs=True)
