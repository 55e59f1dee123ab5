"""The runtime holds one IndexStore, configured from the settings, closed with it."""

from __future__ import annotations

from pathlib import Path

from parallizer.config import Settings
from parallizer.index import IndexStore
from parallizer.runtime import Runtime

from .conftest import copy_fixture


async def test_runtime_index_uses_the_settings_and_the_runtime_ripgrep(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, allowed_roots=str(tmp_path), index_workers=0,
                        index_max_files=5, index_max_scopes=3)  # fmt: skip
    root = copy_fixture("python", tmp_path)
    async with Runtime(settings, web=None, llm=None) as runtime:
        assert isinstance(runtime.index, IndexStore)
        assert runtime.index.max_files == 5 and runtime.index.max_scopes == 3
        index = await runtime.index.get(root)
        assert index.stats()["files"] == 5 and index.stats()["partial"] is True
        assert await runtime.index.get(root) is index  # shared while fresh
    assert len(runtime.index) == 0  # closed with the runtime
