"""``python -m benchmarks.chaos``: see `benchmarks.chaos` and ``--help``."""

import sys

from ._cli import main

sys.exit(main())
