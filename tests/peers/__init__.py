"""Real peers: servers and clients that this project did not write.

Each example is proven against widely used software (nginx, OpenSSH, vsftpd,
Exim, curl, lftp, a WebSocket peer in Go and one in Node.js, Chromium...),
started by the tests on loopback, on a free port, with a configuration
rendered from a template in this folder, and stopped by its process id.

* `programs.py` knows each peer: the command, the Debian package to install
  when it is missing (the test then fails and says so: never a skip), and how
  to read its version.
* `daemons.py` starts a server program and waits until it accepts
  connections.
* `interop.py` records, through the `interop` marker, which example each test
  proves against which peer; `docs/interop.md` shows that table, and a test
  checks that it claims nothing the tests did not run.
* the other modules hold one peer's fixtures each; `tests/conftest.py` loads
  every module of this folder as a pytest plugin.
"""
