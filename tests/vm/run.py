#!/usr/bin/python3
"""tests/vm/run.py ARGS runs `python3 -m pytest tests/vm ARGS`: the VM tests
under pytest, from any directory.  The options (--matrix, --kernel, --qemu,
--module, --only, --list, --out, ...) are conftest.py's; see docs/harness.md.

  tests/vm/run.py --matrix check|full             the matrices of make check / check-matrix
  tests/vm/run.py --kernel trixie-backports --qemu 10.0 --only stats -v
"""
import os
import sys

import pytest

if __name__ == "__main__":
    sys.exit(pytest.main([os.path.dirname(os.path.abspath(__file__))] + sys.argv[1:]))
