"""The graph's default checkpointer: LangGraph's ``SqliteSaver`` on the data dir's SQLite file, strict about what it
deserializes, and usable from async code too.

``SqliteSaver`` refuses every async method (``graph.ainvoke``, ``astream``, ``aget_state`` raise
``NotImplementedError``), and ``AsyncSqliteSaver`` works only on the event loop that opened it, which the CLI, the
studio and the runner (all synchronous) do not have. A developer who embeds the graph in an async web app needs
both on the same threads, so each async method here runs its synchronous twin in a worker thread; the saver's own
lock already serializes every use of its connection across threads (``SqliteSaver.cursor``). This is what
LangGraph's ``InMemorySaver`` does for its async methods, off the event loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata, CheckpointTuple
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver

from briefcraft.graphs.state import CHECKPOINTED_TYPES

__all__ = ["ALLOWLIST", "SqliteCheckpoints", "sqlite_checkpoints"]

#: Our classes a checkpoint may hold: LangGraph deserializes only these and its own safe types.
ALLOWLIST = [(t.__module__, t.__name__) for t in CHECKPOINTED_TYPES]


class SqliteCheckpoints(SqliteSaver):
    """``SqliteSaver`` whose async methods run the synchronous ones in a worker thread (see the module's text)."""

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await asyncio.to_thread(self.get_tuple, config)

    async def alist(self, config: RunnableConfig | None, *, filter: dict[str, Any] | None = None,
                    before: RunnableConfig | None = None, limit: int | None = None,
                    ) -> AsyncIterator[CheckpointTuple]:
        found = await asyncio.to_thread(lambda: list(self.list(config, filter=filter, before=before, limit=limit)))
        for item in found:
            yield item

    async def aput(self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata,
                   new_versions: ChannelVersions) -> RunnableConfig:
        return await asyncio.to_thread(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str,
                          task_path: str = "") -> None:
        await asyncio.to_thread(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await asyncio.to_thread(self.delete_thread, thread_id)


def sqlite_checkpoints(path: Path) -> SqliteCheckpoints:
    """The checkpointer on the SQLite file at ``path`` (its folder made when missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Strict: deserialize only LangGraph's safe types and ours, never arbitrary classes from the file.
    serde = JsonPlusSerializer(allowed_msgpack_modules=ALLOWLIST)
    return SqliteCheckpoints(sqlite3.connect(path, check_same_thread=False), serde=serde)
