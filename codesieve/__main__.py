"""`python -m codesieve` is the `codesieve` command."""

import sys

from codesieve.pipeline.cli import main

sys.exit(main())
