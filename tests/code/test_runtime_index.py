"""The runtime holds one CodeKnowledge, configured from the settings, closed with it."""

from __future__ import annotations

from pathlib import Path

from parallizer.code import CodeKnowledge
from parallizer.config import Settings
from parallizer.runtime import Runtime

from .conftest import copy_fixture


async def test_runtime_index_uses_the_settings_and_the_runtime_ripgrep(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, allowed_roots=str(tmp_path), index_workers=0,
                        index_max_files=5, index_max_scopes=3)  # fmt: skip
    root = copy_fixture("python", tmp_path)
    async with Runtime(settings, web=None, llm=None) as runtime:
        assert isinstance(runtime.code, CodeKnowledge)
        assert runtime.code.max_files == 5 and runtime.code.max_scopes == 3
        index = await runtime.code.snapshot(root)
        assert index.stats()["files"] == 5 and index.stats()["partial"] is True
        assert await runtime.code.snapshot(root) is index  # shared while fresh
    assert len(runtime.code) == 0  # closed with the runtime
