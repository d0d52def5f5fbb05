"""bench.harness.peak_in_window: the busiest window of request arrivals."""

from __future__ import annotations

from bench.harness import peak_in_window


def test_requests_a_window_apart_fall_in_different_windows() -> None:
    assert peak_in_window([0.0, 0.5, 1.0, 1.5], 1.0) == 2


def test_the_busiest_window_is_found_wherever_it_starts() -> None:
    times = [5.0, 0.0, 3.2, 3.9, 4.1, 9.0]  # unordered, as a merged log may be
    assert peak_in_window(times, 1.0) == 3
    assert peak_in_window(times, 2.0) == 4
    assert peak_in_window([], 1.0) == 0
