"""Planners: from a plan (and cursor) to the queries worth running, offline heuristics or an
LLM (`planner.llm`), and the card writing that goes with them."""

from .offline import Plan, PlannedQuery, Term, plan, plan_for
from .vague import OpenSpot, open_spots

__all__ = ["OpenSpot", "Plan", "PlannedQuery", "Term", "open_spots", "plan", "plan_for"]
