"""Reading a plan off the event loop and off the GIL: the Markdown parse, the plan's facts
and its ranked queries (`plan_for`) computed in a worker process of the plan's lane
(`parallizer.lanes`, the `Runtime`'s: a big plan is read in a lane of its own, so it never
holds up a small one).

Reading the example plan costs ~10 ms of Python; in a thread it holds the GIL that the event
loop needs, so under a burst of requests every request's first remote call waited for the
others' reading. In a process it runs on another core, and what comes back (the blocks, the
facts and the plan, ~13 KB pickled) takes under a millisecond to load. The results go into the
same per-document caches `read()` and `plan_for()` fill in process, so the fulfillers find the
very objects they would have computed. Without worker processes (PARALLIZER_READ_WORKERS=0,
none can start, or one died) the plan is read in a thread of its lane.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..document import Document
from ..document.markdown import Blocks
from ..document.reader import PlanFacts, read, remember
from .offline import Plan, plan_for, remember_plan

if TYPE_CHECKING:
    from ..lanes import Lanes


def _read_text(
    text: str, cursor: tuple[int, int], max_queries: int, exclude: str | None
) -> tuple[Blocks, PlanFacts, Plan]:
    """In the worker: what `plan_for` computes for this document."""
    doc = Document(text, cursor)
    plan = plan_for(doc, max_queries, exclude)
    return doc.blocks, read(doc), plan


async def read_and_plan(
    doc: Document, max_queries: int, exclude: str | None, *, lanes: Lanes
) -> None:
    """Fill `doc`'s reading caches (`read(doc)`, `plan_for(doc, max_queries, exclude)`): in
    a worker process of its lane, or in a thread of its lane when `lanes` has none."""
    blocks, facts, plan = await lanes.in_process(
        len(doc.text), _read_text, doc.text, doc.cursor, max_queries, exclude
    )
    remember(doc, blocks, facts)
    remember_plan(doc, max_queries, exclude, plan)
