"""`python -m tfaug` runs the command line."""

import sys

from tfaug.cli import main

sys.exit(main())
