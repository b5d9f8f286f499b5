"""`python -m overseer`: the same CLI as the `overseer` console script."""

from overseer.cli.main import main

if __name__ == "__main__":
    main()
