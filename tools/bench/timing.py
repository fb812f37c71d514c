"""Shared timing loop of the step benchmarks (step_overhead.py, scaling.py)."""

import statistics
import time


def alternating_step_times(steps, rounds, count):
    """Median seconds per step of each `steps[name](count)` (a function that runs `count` train steps).

    Each function is warmed up first (tracing, compilation); then `rounds` rounds run them in turn,
    so slow drifts of a noisy machine hit every entry alike. Returns ({name: median}, {name: [per round]}).
    """
    for step in steps.values():
        step(2)
    times = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            step(count)
            times[name].append((time.perf_counter() - start) / count)
    return {name: statistics.median(t) for name, t in times.items()}, times
