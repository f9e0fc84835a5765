"""`python -m pyuniproc`: the same as the `pyuniproc` command."""

import sys

from pyuniproc.cli import main

sys.exit(main())
