"""Evals and benchmarks: labelled datasets, ``briefcraft eval`` suites, and the benchmark scripts."""
