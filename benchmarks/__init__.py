"""rexsim benchmarks: `python -m benchmarks NAME` and the pytest-benchmark cases (see README.md)."""
