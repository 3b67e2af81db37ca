"""CPS card access (PKCS#11) and card readers (PC/SC): built by the Cards issue."""
