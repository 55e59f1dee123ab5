"""The LLM side: an OpenAI-compatible chat client and a tolerant reader of its answers."""

from .client import LLM, LLMClient
from .parse import items_of, parse_structured

__all__ = ["LLM", "LLMClient", "items_of", "parse_structured"]
