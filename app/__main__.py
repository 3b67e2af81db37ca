"""``python -m app`` is the ``dmp`` command line."""

import sys

from app.cli import main

sys.exit(main())
