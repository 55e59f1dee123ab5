"""Property: no card's citation ever points past its file's end (or at a file that is not
there). Seeded random plans, built from the names, owners and paths of fixture trees and
mutated the ways plans go wrong (a dropped or swapped letter, another case, a method on the
wrong class, a wrong argument count, a path that does not exist), run through the real
index, rg and orchestrator, offline and with the LLM emulator inventing citations."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from parallizer.emulators import running
from parallizer.models import Card
from parallizer.runtime import Runtime

from .conftest import write
from .webkit import fulfill, llm_client, settings

PLANS_PER_TREE = 12
WORDS = "then we call with and the batch before start-up later for each when".split()


POLYGLOT_VOCABULARY = [
    ("Client", None), ("close", "Client"), ("AsyncClient", None), ("send", "AsyncClient"),
    ("HttpTransport", None), ("load_config", None), ("HiArgs", None), ("new", "HiArgs"),
]  # fmt: skip


def random_tree(root: Path, rng: random.Random) -> list[tuple[str, str | None]]:
    """Files of several languages with classes and methods, some without a final newline,
    one empty, one a single line; returns its (name, owner) vocabulary."""
    vocabulary: list[tuple[str, str | None]] = [("Queue", None), ("push", "Queue"), ("Server", None),
                                                ("Serve", "Server"), ("One", None)]  # fmt: skip
    for i in range(6):
        cls = f"{rng.choice(['Http', 'Token', 'Retry'])}{rng.choice(['Client', 'Pool'])}{i}"
        methods = rng.sample(["send", "close", "flush", "acquire", "release", "run"], 3)
        vocabulary += [(cls, None), *((m, cls) for m in methods)]
        body = "".join(
            f"    def {m}(self{', a' * rng.randint(0, 2)}):\n        return {i}\n\n"
            for m in methods
        )
        text = f"class {cls}:\n{body}"
        write(root, f"src/pkg{i % 3}/m{i}.py", text.rstrip("\n") if i % 2 else text)
    write(root, "lib/q.js", "export class Queue {\n  push(item) {\n    return item;\n  }\n}\n")
    write(root, "src/main.go",
          "package main\n\ntype Server struct{}\n\nfunc (s *Server) Serve(n int) error {\n\treturn nil\n}\n")  # fmt: skip
    write(root, "src/empty.py", "")
    (root / "src/one.rs").write_text("pub struct One;")
    return vocabulary


def mutate(name: str, rng: random.Random) -> str:
    if len(name) < 4:
        return name
    i = rng.randrange(1, len(name) - 1)
    how = rng.choice(["drop", "swap", "case", "same"])
    if how == "drop":
        return name[:i] + name[i + 1 :]
    if how == "swap":
        return name[: i - 1] + name[i] + name[i - 1] + name[i + 1 :]
    if how == "case":
        return name.swapcase() if rng.random() < 0.3 else name.upper()
    return name


def random_plan(
    vocabulary: list[tuple[str, str | None]], files: list[str], rng: random.Random
) -> str:
    owners = [n for n, o in vocabulary if o is None]
    lines = ["# Plan", ""]
    for _ in range(rng.randint(3, 10)):
        name, own = rng.choice(vocabulary)
        owner = rng.choice([own, rng.choice(owners), None])
        name = mutate(name, rng)
        text = f"{owner}.{name}" if owner else name
        if rng.random() < 0.4:
            text += "(" + ", ".join("x" * (k + 1) for k in range(rng.randint(0, 4))) + ")"
        path = mutate(rng.choice(files), rng) if files and rng.random() < 0.4 else None
        line = f"- {' '.join(rng.sample(WORDS, 3))} `{text}`" + (f" in `{path}`" if path else "")
        if rng.random() < 0.2:
            line += " (TBD: which one?)"
        if rng.random() < 0.3:  # a citation the LLM emulator may repeat, often past the end
            line += f" (see {rng.choice(files)}:{rng.randint(1, 40)})"
        if rng.random() < 0.15:
            line = f"- add a new `{text.split('(')[0]}`"
        lines.append(line)
    return "\n".join(lines) + "\n"


def files_of(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def assert_citations_inside(cards: list[Card], root: Path) -> None:
    for card in cards:
        for cite in card.metadata.citations:
            path, _, line = cite.rpartition(":")
            f = root / path
            assert f.is_file(), (cite, card.header)
            n = len(f.read_text().splitlines())
            assert line.isdigit() and 1 <= int(line) <= n, (cite, n, card.header, card.text)


@pytest.mark.parametrize("seed", [1, 2])
async def test_no_citation_points_past_a_files_end(tmp_path: Path, polyglot: Path, seed: int):
    rng = random.Random(seed)
    rand = tmp_path / "rand"
    trees = [(rand, random_tree(rand, rng)), (polyglot, POLYGLOT_VOCABULARY)]
    for root, vocabulary in trees:
        files = files_of(root)
        async with Runtime(settings(root.parent), web=None, llm=None) as rt:
            for _ in range(PLANS_PER_TREE):
                plan = random_plan(vocabulary, files, rng)
                (root / "plan.md").write_text(plan)
                cursor = (rng.randrange(len(plan.split("\n"))), 0)
                resp = await fulfill(rt, plan, scope=root, plan=root / "plan.md", cursor=cursor,
                                     only=["ambiguities", "code_search"])  # fmt: skip
                assert_citations_inside(resp.cards, root)


async def test_no_llm_citation_points_past_a_files_end(polyglot: Path):
    """The emulator fills its answers with `path:line`s from the prompt's vocabulary and
    invents line numbers: whatever survives is inside its file."""
    rng = random.Random(7)
    async with running("llm") as lm:
        async with Runtime(settings(polyglot.parent), llm=llm_client(lm), web=None) as rt:
            files = files_of(polyglot)
            for _ in range(6):
                plan = random_plan(POLYGLOT_VOCABULARY, files, rng)
                (polyglot / "plan.md").write_text(plan)
                resp = await fulfill(rt, plan, scope=polyglot, plan=polyglot / "plan.md",
                                     only=["ambiguities"])  # fmt: skip
                assert_citations_inside(resp.cards, polyglot)
