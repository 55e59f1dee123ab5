"""The cyclic garbage collector's thresholds for a process that makes objects by the million.

Nearly every object Parallizer makes is freed by reference counting; the cyclic collector
only has to find the rare cycle. With Python's thresholds (700, 10, 10) it runs a young
collection every 700 allocations and, now and then, a full one over the whole heap that
stops every thread:

* a served burst of 50 requests ran ~470 young and 4 full collections (0.45-0.55 s in all,
  the full ones 50-120 ms each); under 300 users the server spent 12.6 CPU-seconds against
  7.9 with the thresholds below, at the same peak memory;
* a CLI run on an indexed tree loads ~1 million objects from the index file (the marshal
  load takes 93-96 ms with the collector off, 116-121 ms with it on), after importing ~500
  modules.

`tune()` raises the thresholds to `THRESHOLDS` (a threshold the process set higher is kept).
The service calls it when it starts (`service/app.py`), the command line before it imports
the command (`cli.main`).
"""

from __future__ import annotations

import gc

THRESHOLDS = (50_000, 20, 100)


def tune() -> None:
    """Raise the collector's thresholds to `THRESHOLDS` (never lower one set higher)."""
    gc.set_threshold(*(max(a, b) for a, b in zip(gc.get_threshold(), THRESHOLDS, strict=False)))
