"""Configuration: the key table and its layers (``layers``: built-in defaults, machine policy, user
file, environment, as raw strings) and the typed values the rest of the code reads (``settings``)."""
