"""Planners: from a plan (and cursor) to the queries worth running, offline heuristics or an
LLM (`planner.llm`), and the card writing that goes with them. What the plan says comes from
the document reader (`parallizer.document.read`)."""

from ..document import OpenSpot
from .offline import Plan, PlannedQuery, Term, plan, plan_for

__all__ = ["OpenSpot", "Plan", "PlannedQuery", "Term", "plan", "plan_for"]
