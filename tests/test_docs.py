"""The docs site stays whole and true without mkdocs installed: every page of the nav exists
and every page is in the nav, every relative link between pages (and from README.md) reaches
a real file and heading, every setting of `Settings` is listed in docs/configuration.md with
its default, and every command and option of `parallizer` has its place in docs/cli.md.
(`make docs` builds the site with `mkdocs build --strict` on top of this.)"""

from __future__ import annotations

import importlib
import pkgutil
import re
import unicodedata
from pathlib import Path

import pytest
import typer
import yaml
from pydantic_core import PydanticUndefined

import parallizer.cli
from parallizer.config import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,}).*?^\1\2[`~]*[ \t]*$", re.M | re.S)
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_SNIPPET = re.compile(r'^--8<--\s+"([^"]+)"\s*$', re.M)
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def nav_pages(nav: list) -> list[str]:
    out: list[str] = []
    for item in nav:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        if isinstance(value, list):
            out.extend(nav_pages(value))
        elif not re.match(r"^[a-z]+://", value):
            out.append(value)
    return out


def config() -> dict:
    return yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))


def source(page: Path) -> str:
    """A page's Markdown as mkdocs renders it: snippets (`--8<-- "FILE"`) included."""
    text = page.read_text(encoding="utf-8")
    return _SNIPPET.sub(lambda m: (ROOT / m.group(1)).read_text(encoding="utf-8"), text)


def prose(text: str) -> str:
    """Markdown without fenced code blocks and code spans, where links are not links."""
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def slug(heading: str) -> str:
    """The anchor Python-Markdown's toc extension gives a heading (its default slugify)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(text: str) -> set[str]:
    return {slug(h) for h in _HEADING.findall(_FENCE.sub("", text))}


def broken_links(page: Path, text: str, root: Path = ROOT) -> list[str]:
    """Relative links of `text` (the Markdown of `page`) to a missing file or heading."""
    problems = []
    for target in _LINK.findall(prose(text)):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.is_file():
            problems.append(f"{page.relative_to(root)}: {target} (no such file)")
        elif anchor and file.suffix == ".md":
            if anchor not in anchors(source(file)):
                problems.append(f"{page.relative_to(root)}: {target} (no such heading)")
    return problems


def test_every_page_of_the_nav_exists_and_every_page_is_in_it():
    pages = nav_pages(config()["nav"])
    assert pages, "mkdocs.yml has no nav"
    missing = [p for p in pages if not (DOCS / p).is_file()]
    assert not missing, f"pages in the nav of mkdocs.yml but not in docs/: {missing}"
    on_disk = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert on_disk - set(pages) == set(), "pages in docs/ missing from the nav of mkdocs.yml"


def test_included_files_exist():
    for page in DOCS.rglob("*.md"):
        for name in _SNIPPET.findall(page.read_text(encoding="utf-8")):
            assert (ROOT / name).is_file(), f"{page.relative_to(ROOT)} includes a missing {name}"


def test_relative_links_reach_a_real_file_and_heading():
    problems = []
    for page in sorted(DOCS.rglob("*.md")):
        problems += broken_links(page, source(page))
    for page in (ROOT / "README.md", ROOT / "CONTRIBUTING.md"):
        problems += broken_links(page, page.read_text(encoding="utf-8"))
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_the_link_checker_sees_a_broken_link_and_a_broken_anchor(tmp_path):
    page = tmp_path / "a.md"
    (tmp_path / "b.md").write_text("# B\n\n## The `/app` page\n", encoding="utf-8")
    text = (
        "[ok](b.md#the-app-page) [gone](c.md) [bad anchor](b.md#nope)\n"
        "`[not a link](d.md)`\n```\n[in a fence](e.md)\n```\n"
    )
    assert broken_links(page, text, root=tmp_path) == [
        "a.md: c.md (no such file)",
        "a.md: b.md#nope (no such heading)",
    ]


# --- configuration -----------------------------------------------------------------------


def settings_rows() -> dict[str, str]:
    """`variable -> default` from every table row of docs/configuration.md."""
    rows = {}
    for line in (DOCS / "configuration.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and re.fullmatch(r"`[A-Z][A-Z0-9_]+`", cells[0]):
            rows[cells[0].strip("`")] = cells[1]
    return rows


def variable(name: str) -> str:
    alias = Settings.model_fields[name].validation_alias
    choices = getattr(alias, "choices", None)
    return str(choices[0]) if choices else f"PARALLIZER_{name.upper()}"


def documented_default(name: str) -> str:
    field = Settings.model_fields[name]
    if field.default is PydanticUndefined:  # a default_factory: described in words
        return {
            "allowed_roots": "the working directory",
            "index_workers": "the number of cores",
            "read_workers": "two (one on a single core)",
        }[name]
    value = field.default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{int(value)}`"
    if value == "":
        return "empty"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented_with_its_default(name):
    rows = settings_rows()
    var = variable(name)
    assert var in rows, f"{var} is missing from docs/configuration.md"
    assert rows[var] == documented_default(name), (
        f"{var}: docs/configuration.md says {rows[var]}, the code's default is "
        f"{documented_default(name)}"
    )


# --- command line ------------------------------------------------------------------------


def commands() -> dict:
    for mod in pkgutil.iter_modules(parallizer.cli.__path__):
        importlib.import_module(f"parallizer.cli.{mod.name}")  # each adds its command
    return dict(typer.main.get_command(parallizer.cli.app).commands)  # type: ignore[attr-defined]


def cli_sections() -> dict[str, str]:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    parts = re.split(r"^## `parallizer ([a-z-]+)`\s*$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_command_and_option_has_its_place_in_the_cli_page():
    sections = cli_sections()
    cmds = commands()
    assert {"fulfill", "serve"} <= set(cmds)
    problems = []
    for name, cmd in sorted(cmds.items()):
        if name not in sections:
            problems.append(f"no section ## `parallizer {name}`")
            continue
        for param in cmd.params:
            if getattr(param, "hidden", False) or param.name == "help":
                continue
            words = param.opts if param.param_type_name == "option" else [param.name.upper()]
            if not any(f"`{w}" in sections[name] for w in words):
                problems.append(f"parallizer {name}: {words[0]} is not documented")
    assert not problems, "docs/cli.md:\n" + "\n".join(problems)
