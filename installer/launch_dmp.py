"""Entry script of the frozen ``dmp`` (installer/dmp.spec): the console script ``app.cli:main``."""

import sys

from app.cli import main

sys.exit(main())
