"""The services both faces of the product use (the desktop application and the command line): the
connection to the DMP for every authentication mode (``session``), the working session over it
(``workspace``), the known patients a secretary matches documents to (``patients``), the update
check (``updates``) and the training-mode seam to the embedded sandbox (``training``)."""
