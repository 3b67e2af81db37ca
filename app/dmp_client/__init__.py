"""DMP protocol (pure builders and parsers) and transport: built by the DMP client issue."""
