"""``python -m icl_toolkit ...``: the same as the ``icl`` console script."""

import sys

from icl_toolkit.cli import main

if __name__ == "__main__":
    sys.exit(main())
