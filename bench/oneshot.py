"""Runs one command and prints its wall time and peak RSS as JSON.

Wall time is measured here (GNU time's %e has 10 ms resolution); peak RSS comes from GNU
time's %M, which sees only the exec'd program (a Python child's own maxrss would include
the interpreter it was forked from).

    oneshot.py NAME CMD [ARGS...]
"""
import json
import subprocess
import sys
import tempfile
import time

name, cmd = sys.argv[1], sys.argv[2:]
with tempfile.NamedTemporaryFile("r") as rss:
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *cmd],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.stderr.write(p.stderr.decode(errors="replace"))
        sys.exit(f"oneshot: {name} failed")
    kib = int(rss.read().split()[-1])
print(json.dumps({"op": "oneshot", "client": name, "wall_s": wall, "rss_kib": kib}))
