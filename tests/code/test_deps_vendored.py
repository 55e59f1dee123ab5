"""Go and Rust dependencies vendored into the project (`go mod vendor`'s and `cargo vendor`'s
layouts, written by hand): the plan's uses of them are checked at the versions vendored."""

from __future__ import annotations

import textwrap
from pathlib import Path

from parallizer.code.sources import Options
from parallizer.models import Card
from parallizer.runtime import Runtime

from ..webkit import fulfill, settings


def tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n").replace("TAB", "\t"))  # Go's indent
    return root.resolve()


async def questions(root: Path, plan: str) -> list[Card]:
    # Debian's shared Go and Rust trees stay out of it: only what the tree vendors
    async with Runtime(settings(root.parent, max_questions=6), web=None, llm=None) as rt:
        rt.deps.options = Options(system=False)
        resp = await fulfill(rt, plan, scope=root, only=["ambiguities"])
    assert resp.timings.fulfillers["ambiguities"].ok
    return [c for c in resp.cards if c.type == "question"]


GO = {
    "go.mod": """
        module example.com/ids

        go 1.21

        require (
        TABgithub.com/google/uuid v1.3.0
        TABgithub.com/pkg/errors v0.9.1
        )
        """,
    "vendor/modules.txt": """
        # github.com/google/uuid v1.3.0
        ## explicit
        github.com/google/uuid
        # github.com/pkg/errors v0.9.1
        ## explicit
        github.com/pkg/errors
        """,
    "vendor/github.com/google/uuid/uuid.go": """
        package uuid

        type UUID [16]byte

        func New() UUID { return UUID{} }

        func NewString() string { return New().String() }

        func (u UUID) String() string { return "" }
        """,
    "vendor/github.com/pkg/errors/errors.go": """
        package errors

        func New(message string) error { return nil }

        func WithMessage(err error, message string) error { return err }

        func Cause(err error) error { return err }
        """,
    "ids.go": """
        package ids

        import (
        TAB"github.com/google/uuid"
        TAB"github.com/pkg/errors"
        )

        var ErrUnknown = errors.New("unknown id")

        func Issue() string { return uuid.NewString() }
        """,
}


async def test_go_modules_in_vendor_at_their_versions(tmp_path: Path):
    root = tree(tmp_path / "ids", GO)
    plan = (
        "# Plan\n\n"
        "Issue ids with `uuid.NewV7()` and `uuid.New()`; wrap failures with\n"
        "`errors.WithMesage(err, text)` and unwrap with `errors.Cause`; log with\n"
        '`logrus.WithField("id", id)`.\n'
    )
    by = {c.header: c for c in await questions(root, plan)}
    assert set(by) == {
        "github.com/google/uuid 1.3.0 has no `NewV7`",
        "`errors.WithMesage`: did you mean `WithMessage`?",
        "`logrus` is not a dependency of the project",
    }  # `errors` is the vendored package the code imports, not Go's own
    cite = by["`errors.WithMesage`: did you mean `WithMessage`?"].metadata.citations[1]
    assert cite == "github.com/pkg/errors==0.9.1:errors.go:5"
    assert "not in go.mod" in by["`logrus` is not a dependency of the project"].text


RUST = {
    "Cargo.toml": """
        [package]
        name = "tool"
        version = "0.1.0"

        [dependencies]
        serde_json = "1"
        """,
    "Cargo.lock": """
        version = 3

        [[package]]
        name = "serde_json"
        version = "1.0.108"
        source = "registry+https://github.com/rust-lang/crates.io-index"

        [[package]]
        name = "tool"
        version = "0.1.0"
        """,
    "vendor/serde_json/Cargo.toml": """
        [package]
        name = "serde_json"
        version = "1.0.108"
        """,
    "vendor/serde_json/src/lib.rs": """
        pub struct Value;

        pub fn to_string<T>(value: &T) -> Result<String, Error> { todo!() }

        pub fn from_str<T>(s: &str) -> Result<T, Error> { todo!() }

        pub struct Error;
        """,
    "src/main.rs": """
        use serde_json::Value;

        fn main() {
            let _v: Option<Value> = None;
        }
        """,
}


async def test_rust_crates_in_vendor_at_their_versions(tmp_path: Path):
    root = tree(tmp_path / "tool", RUST)
    plan = "# Plan\n\nPrint with `serde_json::to_strin(&report)`, read with `serde_json::from_str`.\n"
    [card] = await questions(root, plan)
    assert card.header == "`serde_json::to_strin`: did you mean `to_string`?"
    assert "serde_json 1.0.108, the version installed, has no `to_strin`" in card.text
    assert "serde_json==1.0.108:src/lib.rs:3" in card.metadata.citations
