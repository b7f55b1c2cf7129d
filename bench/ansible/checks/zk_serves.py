"""Polls until every given ZooKeeper server answers `srvr` with a serving mode and a write through
kazoo is accepted and read back; exit 1 at the deadline. Usage: zk_serves.py DEADLINE_S host:port..."""
import socket
import sys
import time

from kazoo.client import KazooClient

deadline = time.time() + float(sys.argv[1])
servers = sys.argv[2:]


def mode(hp):
    h, p = hp.rsplit(":", 1)
    try:
        with socket.create_connection((h, int(p)), 1) as s:
            s.sendall(b"srvr")
            out = b""
            while True:
                d = s.recv(4096)
                if not d:
                    break
                out += d
    except OSError:
        return "down"
    for line in out.decode(errors="replace").splitlines():
        if line.startswith("Mode:"):
            return line.split(":", 1)[1].strip()
    return "not-serving"


last = ""
while time.time() < deadline:
    modes = [mode(s) for s in servers]
    if all(m in ("leader", "follower", "standalone") for m in modes):
        zk = KazooClient(hosts=",".join(servers), timeout=2)
        try:
            zk.start(timeout=2)
            value = str(time.time()).encode()
            zk.ensure_path("/ansible")
            if zk.exists("/ansible/verify"):
                zk.set("/ansible/verify", value)
            else:
                zk.create("/ansible/verify", value)
            if zk.get("/ansible/verify")[0] == value:
                print("serving: " + ",".join(modes))
                sys.exit(0)
        except Exception as e:  # noqa: BLE001 - not yet: try again
            last = str(e)
        finally:
            try:
                zk.stop()
                zk.close()
            except Exception:  # noqa: BLE001
                pass
    else:
        last = ",".join(modes)
    time.sleep(0.2)
print("ZooKeeper does not serve: " + last)
sys.exit(1)
