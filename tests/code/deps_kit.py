"""Projects with real packages installed from the registries at pinned versions, for the
dependency tests: made once and kept outside the repository, in ~/.cache/parallizer-test (or
$PARALLIZER_TEST_CACHE), keyed by the pins and the project's files (the eval's installer:
`parallizer.eval.fetch.ensure_project`; a second run installs nothing)."""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

from parallizer.eval.cases import ProjectSpec
from parallizer.eval.fetch import ensure_project

CACHE = Path(os.environ.get("PARALLIZER_TEST_CACHE") or "~/.cache/parallizer-test").expanduser()

# two small pure-Python packages; the second is imported under another name (`dateutil`)
PY_PINS = ("tenacity==8.2.3", "python-dateutil==2.9.0.post0")
PY_FILES = {
    "pyproject.toml": """
        [project]
        name = "retrier"
        version = "0.1.0"
        dependencies = ["tenacity==8.2.3", "python-dateutil==2.9.0.post0"]
        """,
    "retrier/__init__.py": '''
        """Fetch feeds, retrying the flaky ones."""

        from dateutil import parser as dateparser
        from tenacity import Retrying, stop_after_attempt


        class Policy(Retrying):
            """How one feed is retried."""


        def stamps(texts):
            for attempt in Policy(stop=stop_after_attempt(3)):
                with attempt:
                    return [dateparser.isoparse(t) for t in texts]
        ''',
}

# two small npm packages that ship their own typings and depend on nothing
NPM_PINS = ("lru-cache@10.4.3", "commander@12.1.0")
NPM_FILES = {
    "package.json": '{"name": "cachecli", "version": "0.1.0", "type": "module"}\n',
    "src/cli.ts": """
        import { Command } from "commander";
        import { LRUCache } from "lru-cache";

        export class Store {
          private readonly cache: LRUCache<string, string>;

          constructor() {
            this.cache = new LRUCache<string, string>({ max: 100 });
          }

          read(key: string): string | undefined {
            return this.cache.get(key);
          }
        }

        export function buildProgram(): Command {
          const program = new Command();
          program.name("cachecli");
          return program;
        }
        """,
}


def _project(name: str, language: str, install: str, files: dict[str, str],
             pins: tuple[str, ...]) -> Path:  # fmt: skip
    src = CACHE / "src" / name
    for rel, text in files.items():
        p = src / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        body = textwrap.dedent(text).lstrip("\n")
        if not p.is_file() or p.read_text() != body:
            p.write_text(body)
    return ensure_project(ProjectSpec(name, language, src, install, pins), CACHE)


def python_project() -> Path:
    """`retrier`: tenacity 8.2.3 and python-dateutil 2.9.0.post0 in its .venv."""
    return _project("retrier", "python", "pypi", PY_FILES, PY_PINS).resolve()


def npm_project() -> Path:
    """`cachecli`: lru-cache 10.4.3 and commander 12.1.0 in its node_modules."""
    return _project("cachecli", "typescript", "npm", NPM_FILES, NPM_PINS).resolve()


def copy_without_environment(project: Path, dest: Path) -> Path:
    """The project's own files, without what is installed (.venv, node_modules)."""
    out = dest / project.name
    shutil.copytree(project, out, ignore=shutil.ignore_patterns(".venv", "node_modules"))
    return out.resolve()
