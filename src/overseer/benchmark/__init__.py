"""Benchmarks that ship with overseer: the false-done corpus (`overseer bench reviewer`)."""
