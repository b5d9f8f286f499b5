"""How often a false "done" gets through, per mode (overseer.benchmark.false_done; the corpus
ships with the package at src/overseer/benchmark/corpus/cases.yaml)."""

from overseer.benchmark.false_done import main

if __name__ == "__main__":
    main()
