"""`python -m cifarbench` is the same program as the `cifarbench` console script."""

from cifarbench.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
