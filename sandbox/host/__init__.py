"""The sandbox DMP host: the documented DMP interface over mutual TLS, with its rules and faults.

It shares no code with the client's protocol package (``app.dmp_client``): both are checked against
the official schemas and examples, so that a common mistake cannot hide in shared code.
"""
