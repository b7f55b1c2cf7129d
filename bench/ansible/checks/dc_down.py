"""Every given host:port fails a TCP connect within the timeout (in parallel). Exit 1 if any answers."""
import socket
import sys
from concurrent.futures import ThreadPoolExecutor

timeout = float(sys.argv[1])
targets = [t.rsplit(":", 1) for t in sys.argv[2:]]


def is_open(t):
    try:
        with socket.create_connection((t[0], int(t[1])), timeout):
            return True
    except OSError:
        return False


with ThreadPoolExecutor(max_workers=len(targets)) as ex:
    open_ = [f"{h}:{p}" for (h, p), o in zip(targets, ex.map(is_open, targets)) if o]
if open_:
    print("still answering: " + ", ".join(open_))
    sys.exit(1)
print("down")
