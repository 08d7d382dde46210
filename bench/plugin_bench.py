"""The Python plugin's side of scripts/bench.sh (swarmauri-certservice-stepca 0.3.3).

    plugin_bench.py csr KEYFILE N
    plugin_bench.py enroll INFLIGHT TOKENFILE KEYFILE N
    plugin_bench.py oneshot KEYFILE TOKENFILE OUT      (the README quickstart, once)

Output: one JSON object per run, like bench.c and gobench.
BENCH_IMPL=stepca runs the same code on libstepca's drop-in (stepca.swarmauri, the one import
line a plugin user changes) and reports client "python-stepca".
"""
import asyncio
import json
import os
import resource
import sys
import time

if os.environ.get("BENCH_IMPL") == "stepca":
    from stepca.swarmauri import StepCaCertService
    CLIENT = "python-stepca"
else:
    from swarmauri_certservice_stepca import StepCaCertService
    CLIENT = "python"
from swarmauri_core.crypto.types import ExportPolicy, KeyRef, KeyType, KeyUse


def key_ref(path):
    return KeyRef(kid="bench", version=1, type=KeyType.EC, uses=(KeyUse.SIGN,),
                  export_policy=ExportPolicy.SECRET_WHEN_ALLOWED, material=open(path, "rb").read())


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def proc_cpu(pid):
    if not pid:
        return -1.0
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def service():
    return StepCaCertService(os.environ["STEPCA_URL"], verify_tls=os.environ["STEPCA_ROOT"], timeout_s=30.0)


async def csr(path, n):
    svc = service()
    ref = key_ref(path)
    subject = {"CN": "bench.example.com"}
    san = {"dns": ["bench.example.com"]}
    t0 = time.perf_counter()
    for _ in range(n):
        await svc.create_csr(ref, subject, san=san)
    dt = time.perf_counter() - t0
    await svc.aclose()
    print(json.dumps({"op": "csr", "client": CLIENT, "key": path, "iterations": n, "us_per_op": dt / n * 1e6}))


async def enroll(inflight, tokenfile, path, n):
    tokens = open(tokenfile).read().split()[:n]
    svc = service()
    ref = key_ref(path)
    sem = asyncio.Semaphore(inflight)
    failed = 0

    async def one(tok):
        nonlocal failed
        async with sem:
            try:
                c = await svc.create_csr(ref, {"CN": "bench.example.com"}, san={"dns": ["bench.example.com"]})
                await svc.sign_cert(c, ref, opts={"ott": tok})
            except Exception as e:  # noqa: BLE001 - counted and reported
                failed += 1
                print("plugin:", e, file=sys.stderr)

    pid = os.environ.get("STEPCA_PID")
    ca0, c0, t0 = proc_cpu(pid), cpu(), time.perf_counter()
    await asyncio.gather(*(one(t) for t in tokens))
    dt, c, ca = time.perf_counter() - t0, cpu() - c0, proc_cpu(pid) - ca0
    ok = n - failed
    await svc.aclose()
    print(json.dumps({"op": "enroll", "client": CLIENT, "inflight": inflight, "n": n, "failed": failed,
                      "per_s": ok / dt, "client_cpu_us": c / ok * 1e6, "ca_cpu_us": ca / ok * 1e6}))


async def oneshot(path, tokenfile, out):
    tok = open(tokenfile).read().strip()
    svc = service()
    ref = key_ref(path)
    c = await svc.create_csr(ref, {"CN": "bench.example.com"}, san={"dns": ["bench.example.com"]})
    cert = await svc.sign_cert(c, ref, opts={"ott": tok})
    open(out, "wb").write(cert)
    await svc.aclose()


def main():
    a = sys.argv[1:]
    if a[:1] == ["csr"]:
        asyncio.run(csr(a[1], int(a[2])))
    elif a[:1] == ["enroll"]:
        asyncio.run(enroll(int(a[1]), a[2], a[3], int(a[4])))
    elif a[:1] == ["oneshot"]:
        asyncio.run(oneshot(a[1], a[2], a[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
