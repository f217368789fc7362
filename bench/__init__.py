"""Benchmarks for ``sims up``: startup time and memory, token endpoint throughput (see README.md).

They print figures and compare them with targets; they never assert timings.
"""
