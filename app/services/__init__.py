"""The services both faces of the product use (the desktop application and the command line): the
working session (``workspace``), the update check (``updates``) and the training-mode seam to the
embedded sandbox (``training``)."""
