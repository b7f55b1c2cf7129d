"""Polls /metrics/snapshot until exactly one master is elected with its registrar recovered
(registrar/registry_size_bytes present) and /flags quorum as wanted; exit 1 at the deadline. Usage: mesos_leader.py DEADLINE_S QUORUM host:port..."""
import json
import sys
import time
import urllib.request

deadline = time.time() + float(sys.argv[1])
quorum = int(sys.argv[2])
masters = sys.argv[3:]


def get(hp, path):
    try:
        with urllib.request.urlopen(f"http://{hp}{path}", timeout=1) as r:
            return json.load(r)
    except Exception:  # noqa: BLE001 - down or not ready
        return None


last = ""
while time.time() < deadline:
    ms = [get(m, "/metrics/snapshot") for m in masters]
    leaders = [h for h, m in zip(masters, ms) if m and m.get("master/elected") == 1 and "registrar/registry_size_bytes" in m]
    flags = get(leaders[0], "/flags") if len(leaders) == 1 else None
    if flags and flags.get("flags", {}).get("quorum") == str(quorum):
        print("one leader, registrar recovered")
        sys.exit(0)
    last = f"{len(leaders)} recovered leaders"
    time.sleep(0.2)
print("Mesos: " + last)
sys.exit(1)
