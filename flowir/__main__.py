"""``python -m flowir``: the ``flowir`` command line tool."""

import sys

from flowir.cli import main

sys.exit(main())
