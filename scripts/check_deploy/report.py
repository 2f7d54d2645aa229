"""One line per check (ok / FAIL) and the tally."""

import sys


class Failed(Exception):
    """A check's finding: the message says what is wrong and, where it helps, what to do."""


def require(cond, why):
    if not cond:
        raise Failed(why)


class Report:
    def __init__(self, out=sys.stdout):
        self.out = out
        self.ok = 0
        self.failed = []

    def run(self, name, fn, *args):
        """Runs one check; an unexpected exception (a bug, a file of the wrong shape) is a FAIL too."""
        try:
            note = fn(*args)
        except Failed as e:
            self.failed.append(name)
            print(f"  FAIL  {name}: {e}", file=self.out, flush=True)
        except Exception as e:  # noqa: BLE001 - still one clear line
            self.failed.append(name)
            print(f"  FAIL  {name}: {type(e).__name__}: {e}", file=self.out, flush=True)
        else:
            suffix = f" ({note})" if note else ""
            self.ok += 1
            print(f"  ok    {name}{suffix}", file=self.out, flush=True)
