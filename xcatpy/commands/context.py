"""What a handler gets besides its request: paths, the caller, the store."""

from __future__ import annotations

from typing import TYPE_CHECKING

from xcatpy.paths import Paths

if TYPE_CHECKING:
    from xcatpy.store.db import Store


class Context:
    """Per-request context.  The store opens lazily; the daemon may share one."""

    def __init__(self, paths: Paths, user: str, store: Store | None = None) -> None:
        self.paths = paths
        self.user = user
        self._store = store
        self._owns_store = store is None

    @property
    def store(self) -> Store:
        if self._store is None:
            from xcatpy.store.db import open_store

            self._store = open_store(self.paths)
        return self._store

    def close(self) -> None:
        if self._store is not None and self._owns_store:
            self._store.dispose()
            self._store = None
