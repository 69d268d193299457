"""Every benchmark `make bench` runs imports and has its entry point: a bench broken by a
change elsewhere (a helper moved between modules) fails here, not at the next bench run."""
import importlib

import pytest

from bench.run import BENCHMARKS


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_a_benchmark_imports_and_has_main(name):
    module = importlib.import_module(BENCHMARKS[name])
    assert callable(module.main)
