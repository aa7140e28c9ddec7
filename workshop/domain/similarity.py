"""Suggested duplicates: proposals whose wording is close, by character trigrams.

Character n-grams suit Danish, where compounds and inflections ("frivilligcenter",
"frivilligcentrene") defeat word matching. The measure is the Dice coefficient of the two
texts' trigram multisets; static/js/similar.js computes the same in the browser.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").casefold()
    return _NOT_WORD.sub(" ", text).strip()


def trigrams(text: str) -> Counter:
    padded = "  " + normalise(text) + " "
    return Counter(padded[i:i + 3] for i in range(len(padded) - 2))


def dice(a: Counter, b: Counter) -> float:
    total = sum(a.values()) + sum(b.values())
    if not total:
        return 0.0
    shared = sum(min(count, b[gram]) for gram, count in a.items() if gram in b)
    return 2 * shared / total


@dataclass(frozen=True)
class Text:
    id: int
    text: str
    group: int | None = None  # e.g. the model element; only texts in one group are compared


@dataclass(frozen=True)
class Pair:
    a: int
    b: int
    score: float


def similar_pairs(texts: Iterable[Text], threshold: float = 0.45, limit: int = 20) -> list[Pair]:
    """The most similar pairs, best first. An inverted index of trigrams keeps this from
    comparing every pair: only texts that share a rare-enough trigram are scored."""
    texts = [t for t in texts if normalise(t.text)]
    grams = {t.id: trigrams(t.text) for t in texts}
    group = {t.id: t.group for t in texts}
    index: dict[str, list[int]] = defaultdict(list)
    for t in texts:
        for gram in grams[t.id]:
            index[gram].append(t.id)
    common = max(20, len(texts) // 4)  # a trigram in very many texts says little
    candidates: set[tuple[int, int]] = set()
    for ids in index.values():
        if len(ids) > common:
            continue
        for i, a in enumerate(ids):
            for b in ids[i + 1:]:
                if group[a] == group[b]:
                    candidates.add((min(a, b), max(a, b)))
    pairs = [Pair(a, b, dice(grams[a], grams[b])) for a, b in candidates]
    pairs = [p for p in pairs if p.score >= threshold]
    pairs.sort(key=lambda p: (-p.score, p.a, p.b))
    return pairs[:limit]
