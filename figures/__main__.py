"""``python -m figures NAME --preset quick``: the same as ``icl figure``."""

import sys

from ._framework import main

if __name__ == "__main__":
    sys.exit(main())
