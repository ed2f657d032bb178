"""The developer harness: the local stack (`make run`, the tests' and benchmarks' LocalStack),
process supervision (the command lines and their start/stop) and the docs generators
(`make docs`). Never imported by the API or the workers: `brigade/` holds what they share at run
time, and tests/test_devtools.py keeps the arrows pointing this way."""
