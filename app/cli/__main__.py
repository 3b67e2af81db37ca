"""``python -m app.cli``: the ``dmp`` command line."""

import sys

from app.cli import main

sys.exit(main())
