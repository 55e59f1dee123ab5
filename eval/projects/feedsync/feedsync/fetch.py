"""Fetching a feed: the transport is injected (a callable returning the body), retried with
tenacity; dates parsed with dateutil."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable

from dateutil import parser as dateparser
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from .store import Entry, EntryStore

ATOM = "{http://www.w3.org/2005/Atom}"


class FetchError(Exception):
    """The server answered with something that is not a feed, or not at all."""


class FeedFetcher:
    def __init__(self, get: Callable[[str], str], store: EntryStore) -> None:
        self.get = get
        self.store = store

    @retry(
        retry=retry_if_exception_type(FetchError),
        stop=stop_after_attempt(4),
        wait=wait_exponential(multiplier=0.5, max=8),
        reraise=True,
    )
    def fetch(self, url: str) -> str:
        try:
            return self.get(url)
        except OSError as exc:
            raise FetchError(f"{url}: {exc}") from exc

    def parse(self, body: str) -> list[Entry]:
        root = ET.fromstring(body)
        entries = []
        for node in root.iter(f"{ATOM}entry"):
            entries.append(
                Entry(
                    id=node.findtext(f"{ATOM}id", ""),
                    title=node.findtext(f"{ATOM}title", ""),
                    published=dateparser.isoparse(node.findtext(f"{ATOM}updated", "")),
                )
            )
        return entries

    def sync(self, url: str) -> int:
        """New entries of the feed at `url` into the store; how many were new."""
        return sum(self.store.add(e) for e in self.parse(self.fetch(url)))
