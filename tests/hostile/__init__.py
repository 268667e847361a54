"""Hostile input: the attacks that every server snippet must survive.

* `attacks.py` holds the misbehaving clients (silent, slow drip, reset
  mid-message, a flood of connections, a client that never reads) and the
  probes that measure a server (its memory, how long a good client waits).
* `plugin.py` defines the `hostile` marker, which says which fault a test
  inflicts on which server and which row of that server's limits table it
  proves; tests/test_limits_tables.py checks the pages against the markers.
"""
