"""Prometheus metrics of one runtime (``GET /metrics`` on the control plane).

Each runtime has its own ``CollectorRegistry`` so that several worlds in one process (tests, the
pytest plugin) never share or clash over metric names. The shared HTTP layer records one counter
increment and one histogram observation per request.
"""

from __future__ import annotations

import re

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

# path segments that are ids: numbers, UUIDs, long hex strings, CUSTOM_NN categories
_ID = re.compile(
    r"^(?:\d+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{16,}|CUSTOM_\d+)$"
)
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def collapse_ids(path: str) -> str:
    """``/api/v1/urlCategories/CUSTOM_01`` -> ``/api/v1/urlCategories/{id}``."""
    return "/".join("{id}" if _ID.match(part) else part for part in path.split("/"))


def route_of(scope: dict) -> str:
    """The route template the app matched (``/api/v1/urlCategories/{category_id}``), else the path
    with its ids collapsed (requests answered before routing: faults, 413, unknown paths)."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if isinstance(template, str) and template and hasattr(route, "endpoint"):
        return template
    return collapse_ids(scope["path"])


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "sims_http_requests",
            "HTTP requests served by the simulators",
            ["sim", "method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "sims_http_request_duration_seconds",
            "Time to answer a request (real time, not the simulated clock)",
            ["sim", "route"],
            buckets=BUCKETS,
            registry=self.registry,
        )

    def observe(self, sim: str, method: str, route: str, status: int | None, seconds: float) -> None:
        self.requests.labels(sim, method, route, str(status or 0)).inc()
        self.latency.labels(sim, route).observe(seconds)

    def add_source(self, source) -> None:
        """A sim's own figures, read at scrape time: ``source()`` yields (name, help, labels, value)
        counters (e.g. threat sharing's shares and errors), so sims need no metrics code of their own."""
        self.registry.register(_SourceCollector(source))

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _SourceCollector:
    def __init__(self, source) -> None:
        self.source = source

    def collect(self):
        from prometheus_client.core import CounterMetricFamily

        families: dict[str, CounterMetricFamily] = {}
        for name, help_text, labels, value in self.source():
            family = families.get(name)
            if family is None:
                family = families[name] = CounterMetricFamily(name, help_text, labels=list(labels))
            family.add_metric(list(labels.values()), value)
        yield from families.values()

    def describe(self):
        return []
