"""`python -m parallizer`: the same command line as the `parallizer` script."""

from .cli import main

if __name__ == "__main__":
    main()
