"""Polls /metrics/snapshot until exactly one master is elected with registrar/log/recovered = 1
and master/quorum as wanted; exit 1 at the deadline. Usage: mesos_leader.py DEADLINE_S QUORUM host:port..."""
import json
import sys
import time
import urllib.request

deadline = time.time() + float(sys.argv[1])
quorum = int(sys.argv[2])
masters = sys.argv[3:]


def metrics(hp):
    try:
        with urllib.request.urlopen(f"http://{hp}/metrics/snapshot", timeout=1) as r:
            return json.load(r)
    except Exception:  # noqa: BLE001 - down or not ready
        return None


last = ""
while time.time() < deadline:
    ms = [metrics(m) for m in masters]
    leaders = [m for m in ms if m and m.get("master/elected") == 1 and m.get("registrar/log/recovered") == 1]
    if len(leaders) == 1 and leaders[0].get("master/quorum", quorum) == quorum:
        print("one leader, registrar recovered")
        sys.exit(0)
    last = f"{len(leaders)} recovered leaders"
    time.sleep(0.2)
print("Mesos: " + last)
sys.exit(1)
