"""Query planning and card writing (offline heuristics and LLM)."""
