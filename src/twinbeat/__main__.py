"""`python -m twinbeat` is the `twinbeat` command."""

import sys

from twinbeat.cli import main

sys.exit(main())
