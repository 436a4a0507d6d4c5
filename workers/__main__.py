"""``python -m workers``: the same as ``docstore worker`` (the queue consumers without the API)."""

from __future__ import annotations

import sys

from cli import main

if __name__ == "__main__":
    raise SystemExit(main(["worker", *sys.argv[1:]]))
