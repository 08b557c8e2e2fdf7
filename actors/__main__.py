"""``python -m actors``: run a supervision tree with a live view, or read a trace (see `actors._cli`)."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
