"""The history cache: entries are taken while an episode runs and the least recently used go first."""

from __future__ import annotations

from durable_ext.azurestorage.history_cache import HistoryCache
from durable_ext.azurestorage.history_store import LoadedHistory


def _history(etag: str) -> LoadedHistory:
    return LoadedHistory([], "exec", etag)


def test_an_entry_is_taken_out_and_counted() -> None:
    cache = HistoryCache()
    cache.put("a", _history("1"))
    taken = cache.take("a")
    assert taken is not None and taken.etag == "1"
    assert cache.take("a") is None
    assert (cache.hits, cache.misses) == (1, 1)


def test_the_least_recently_used_entry_goes_first() -> None:
    cache = HistoryCache(max_entries=2)
    cache.put("a", _history("1"))
    cache.put("b", _history("2"))
    cache.put("a", _history("3"))  # a is now the most recent
    cache.put("c", _history("4"))
    assert len(cache) == 2
    assert cache.take("b") is None
    assert [cache.take(i).etag for i in ("a", "c")] == ["3", "4"]  # type: ignore[union-attr]


def test_entries_can_be_dropped_by_instance_and_by_predicate() -> None:
    cache = HistoryCache()
    for name in ("p0-a", "p0-b", "p1-a"):
        cache.put(name, _history(name))
    cache.drop("p0-a")
    cache.drop_where(lambda instance_id: instance_id.startswith("p1"))
    assert len(cache) == 1 and cache.take("p0-b") is not None


def test_a_cache_of_size_zero_keeps_nothing() -> None:
    cache = HistoryCache(max_entries=0)
    cache.put("a", _history("1"))
    assert cache.take("a") is None
