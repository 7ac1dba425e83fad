"""The ``weipian`` command line."""
