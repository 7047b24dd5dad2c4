"""`python -m tfaug` runs the command line.

Python imports the `tfaug` package, and with it TensorFlow, before this module runs, so TensorFlow's C++
start-up lines stay in this form's output: no launcher can run first here (see `tfaug.cli`).
"""

import sys

from tfaug.cli import main

sys.exit(main())
