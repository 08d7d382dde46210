"""Whole processes in a loop, for scripts/bench.sh: INFLIGHT workers run N commands in all.

    procloop.py OP CLIENT EXTRA INFLIGHT N [--setup CMD] -- CMD...

CMD and the setup command (run once per worker before the clock starts) are argument lists
in which {w} is the worker's number and {i} the command's. EXTRA is JSON members added to
the output line ("" for none); with a "devices" member, each command counts as that many
(a batch), so the figures are per device. Prints one JSON line like the C and Go benches: per second,
and CPU per command of the processes (their user + system time, children included) and of
step-ca (STEPCA_PID).
"""

import json
import os
import resource
import subprocess
import sys
import threading
import time


def proc_cpu(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return -1.0


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main():
    args = sys.argv[1:]
    op, client, extra, inflight, n = args[0], args[1], args[2], int(args[3]), int(args[4])
    rest = args[5:]
    setup = None
    if rest[0] == "--setup":
        setup = rest[1]
        rest = rest[2:]
    assert rest[0] == "--"
    cmd = rest[1:]

    def fill(parts, **kw):
        return [p.format(**kw) for p in parts]

    if setup:
        for w in range(inflight):
            r = subprocess.run(["sh", "-c", setup.format(w=w)], capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"procloop {client}: set-up failed: {r.stderr[:500]}")
    lock = threading.Lock()
    state = {"next": 0, "failed": 0}

    def worker(w):
        while True:
            with lock:
                i = state["next"]
                state["next"] += 1
            if i >= n:
                return
            r = subprocess.run(fill(cmd, w=w, i=i), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if r.returncode != 0:
                with lock:
                    state["failed"] += 1
                    if state["failed"] <= 3:
                        sys.stderr.write(f"procloop {client}: {r.stderr.decode(errors='replace')[:300]}\n")

    pid = os.environ.get("STEPCA_PID", "")
    ca0, c0, t0 = proc_cpu(pid), children_cpu(), time.monotonic()
    threads = [threading.Thread(target=worker, args=(w,)) for w in range(inflight)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt, c, ca = time.monotonic() - t0, children_cpu() - c0, proc_cpu(pid) - ca0
    line = {"op": op, "client": client}
    if extra:
        line.update(json.loads("{" + extra.rstrip(",") + "}"))
    ok = (n - state["failed"]) * line.get("devices", 1)
    line.update({"inflight": inflight, "n": n, "failed": state["failed"], "per_s": round(ok / dt, 1),
                 "client_cpu_us": round(c / max(ok, 1) * 1e6, 1), "ca_cpu_us": round(ca / max(ok, 1) * 1e6, 1)})
    print(json.dumps(line), flush=True)
    sys.exit(1 if state["failed"] else 0)


if __name__ == "__main__":
    main()
