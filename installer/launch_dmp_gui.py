"""Entry script of the frozen ``dmp-gui`` (installer/dmp.spec): the GUI script ``app.ui.main:main``."""

import sys

from app.ui.main import main

sys.exit(main())
