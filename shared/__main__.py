"""`python -m shared`: the command line (shared/cli.py)."""

import sys

from shared.cli import main

sys.exit(main())
