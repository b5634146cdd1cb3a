"""``python -m proofs [LEMMA ...]``: check every lemma, print the table, exit 1 if any fails."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
