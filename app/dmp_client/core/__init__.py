"""The DMP protocol core: typed builders and parsers, no network, no Qt, no card library.

Everything here turns typed values into the exact bytes sent, and received bytes into typed results
or typed errors (the sans-I/O style of h11). Signing goes through the :class:`Signer` protocol, whose
implementations (card, structure key) live at the edges.
"""
