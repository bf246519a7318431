# SPDX-License-Identifier: MIT
"""Reading Google Benchmark JSON output: one record per benchmark, with the
median of its repetitions when it was repeated. Standard library only."""

import json
import re
import statistics

# Name parts that describe how a run was made, not what it measured; they
# are dropped so that runs with other settings still pair up.
_RUN_PARTS = re.compile(
    r"/(?:repeats|min_time|min_warmup_time|iterations):[^/]+|/(?:real|manual)_time")

_TIME_SCALE = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

# Fields that are not counters.
_FIXED = {
    "name", "run_name", "run_type", "repetitions", "repetition_index",
    "threads", "iterations", "real_time", "cpu_time", "time_unit",
    "family_index", "per_family_instance_index", "aggregate_name",
    "aggregate_unit", "label", "error_occurred", "error_message",
}


def base_name(name):
    """'fault/EPT4/4k/repeats:3' -> 'fault/EPT4/4k'; threads:N is kept."""
    return _RUN_PARTS.sub("", name)


class Record:
    """One benchmark: times in ns per iteration, counters by name."""

    def __init__(self, name, entries):
        self.name = name
        first = entries[0]
        self.threads = first.get("threads", 1)
        self.label = first.get("label", "")
        self.runs = len(entries)
        self.real_ns = [e["real_time"] * _TIME_SCALE[e["time_unit"]]
                        for e in entries]
        self.cpu_ns = [e["cpu_time"] * _TIME_SCALE[e["time_unit"]]
                       for e in entries]
        self.real_time_mode = bool(re.search(r"/(real|manual)_time",
                                             first["name"]))
        self.counters = {}
        for key in first:
            if key not in _FIXED and isinstance(first[key], (int, float)):
                self.counters[key] = statistics.median(
                    e.get(key, 0.0) for e in entries)

    def ns(self):
        """Median time per iteration: wall time for runs timed by wall
        clock (threads, manual timing), else CPU time, which a busy
        machine disturbs less."""
        return statistics.median(
            self.real_ns if self.real_time_mode else self.cpu_ns)

    def cpu(self):
        """Median CPU time per iteration (summed over threads)."""
        return statistics.median(self.cpu_ns)

    def spread(self):
        """(min, max) of the repetitions' times."""
        t = self.real_ns if self.real_time_mode else self.cpu_ns
        return min(t), max(t)

    def get(self, counter, default=None):
        return self.counters.get(counter, default)


def load(path):
    """Returns (context, {base name: Record}, [errors])."""
    with open(path) as f:
        doc = json.load(f)
    groups, medians, errors = {}, {}, []
    for e in doc.get("benchmarks", []):
        name = base_name(e.get("run_name", e["name"]))
        if e.get("error_occurred"):
            errors.append((name, e.get("error_message", "")))
            continue
        if e.get("run_type") == "aggregate":
            if e.get("aggregate_name") == "median":
                medians[name] = e
            continue
        groups.setdefault(name, []).append(e)
    records = {}
    for name, entries in groups.items():
        records[name] = Record(name, entries)
    # Runs reported as aggregates only: the median stands for the runs.
    for name, e in medians.items():
        if name not in records:
            records[name] = Record(name, [e])
            records[name].runs = e.get("repetitions", 1)
    return doc.get("context", {}), records, errors
