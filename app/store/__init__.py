"""Encrypted cache, durable upload queue and journal: built by the Local store issue."""
