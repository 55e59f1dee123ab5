"""feedsync: pull feed entries into a local store."""

from .fetch import FeedFetcher
from .store import Entry, EntryStore

__all__ = ["Entry", "EntryStore", "FeedFetcher"]
