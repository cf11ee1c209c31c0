"""`python -m music_lstm`: the command line lives in `app.cli`."""

import sys

from .app.cli import main

if __name__ == "__main__":
    sys.exit(main())
