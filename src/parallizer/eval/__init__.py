"""`parallizer eval`: how good the cards are, measured on real trees nobody here wrote.

Plans with planted mistakes (and clean plans) live in the repository's `eval/` folder with their
expected answers; the trees are fetched at pinned versions, checksums verified, into a cache
outside the repository. The product runs in-process through the orchestrator (as
`parallizer fulfill --json` does) with real `rg`, offline and with an LLM through the emulator.
"""
