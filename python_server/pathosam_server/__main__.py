"""`python -m pathosam_server ...` runs the CLI."""

import sys

from .cli import main

sys.exit(main())
