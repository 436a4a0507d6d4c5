"""The embedded AWS's DynamoDB lock is granted in the order it was asked for."""

from __future__ import annotations

import threading
import time

from adapters.aws_process import FairLock


def test_waiters_get_the_lock_in_the_order_they_asked() -> None:
    lock = FairLock()
    order: list[int] = []
    threads = []
    with lock:
        for number in range(8):
            thread = threading.Thread(target=lambda n=number: _take(lock, order, n))
            thread.start()
            threads.append(thread)
            deadline = time.monotonic() + 10
            while len(lock._waiting) <= number:  # this one is queued before the next starts
                assert time.monotonic() < deadline, f"thread {number} never queued"
                time.sleep(0.001)
        assert order == []  # nobody got in while it was held
    for thread in threads:
        thread.join(10)
    assert order == list(range(8))
    assert not lock._held
    assert not lock._waiting


def test_it_is_free_again_after_each_use_and_after_an_error() -> None:
    lock = FairLock()
    for _ in range(3):
        with lock:
            assert lock._held
    try:
        with lock:
            raise ValueError("inside")
    except ValueError:
        pass
    assert not lock._held
    taken = threading.Event()
    thread = threading.Thread(target=lambda: _take(lock, [], 0, taken))
    thread.start()
    thread.join(10)
    assert taken.is_set()


def _take(lock: FairLock, order: list[int], number: int, taken: threading.Event | None = None) -> None:
    with lock:
        order.append(number)
        if taken is not None:
            taken.set()
