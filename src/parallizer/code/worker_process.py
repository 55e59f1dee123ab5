"""Entry point of an index worker process: parse the batches its store sends on stdin.

Not imported by the package, so `python -m` runs it without a second copy of `worker`."""

import sys

from parallizer.code.parse import serve

if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
