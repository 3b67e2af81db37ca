"""``dmp-gui``: entry point of the desktop application."""

from __future__ import annotations

import sys


def main() -> int:
    """Start the desktop application.

    The Qt application arrives with the Desktop application issue; until then this entry point says
    so plainly instead of pretending to start.
    """
    print(
        "dmp-gui : l'application de bureau n'est pas encore disponible dans cette version ; "
        "utilisez « dmp demo » ou « dmp ins ».",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main())
