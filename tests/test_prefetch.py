"""Prefetch: same items in order, errors re-raised, early close stops and closes the source."""

import threading
import time

import pytest

from mmvideo.pipeline.prefetch import Prefetch


def test_yields_the_same_items_in_order():
    assert list(Prefetch(iter(range(100)), depth=3)) == list(range(100))


def test_reads_ahead_while_the_consumer_works():
    produced = []

    def source():
        for i in range(5):
            produced.append(i)
            yield i

    with Prefetch(source(), depth=2) as it:
        assert next(it) == 0
        time.sleep(0.3)
        assert len(produced) >= 3  # items 1 and 2 were read while we "worked"


def test_errors_reach_the_consumer():
    def source():
        yield 1
        raise ValueError("decode failed")

    it = Prefetch(source())
    assert next(it) == 1
    with pytest.raises(ValueError, match="decode failed"):
        next(it)


def test_early_close_closes_the_source_in_its_thread():
    closed = threading.Event()

    def source():
        try:
            for i in range(10_000):
                yield i
        finally:
            closed.set()

    it = Prefetch(source(), depth=1)
    assert next(it) == 0
    it.close()
    assert closed.wait(5)
