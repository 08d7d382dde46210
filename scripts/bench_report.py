"""Turns scripts/bench.sh's JSON lines into BENCHMARKS.md (on stdout)."""
import json
import os
import platform
import statistics
import subprocess
import sys


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception:  # noqa: BLE001 - a missing tool just leaves the cell empty
        return ""


rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
versions = sys.argv[2] if len(sys.argv) > 2 else ""


def group(items, key):
    groups = {}
    for r in items:
        groups.setdefault(key(r), []).append(r)
    return groups


def stats(rs, field):
    """Median, rounds, and the spread between rounds ((max - min) / median)."""
    v = [r[field] for r in rs]
    m = statistics.median(v)
    return {"median": m, "rounds": len(v), "spread": (max(v) - min(v)) / m if m and len(v) > 1 else None}


# Medians over the rounds (scripts/bench.sh repeats every measurement).
csr = {k: statistics.median(r["us_per_op"] for r in v)
       for k, v in group([r for r in rows if r["op"] == "csr"],
                         lambda r: (r.get("client", "libstepca"), r["key"].replace(".pem", ""))).items()}
csr_rounds = max((len(v) for v in group([r for r in rows if r["op"] == "csr"],
                                        lambda r: (r.get("client", "libstepca"), r["key"])).values()), default=0)


def table_of(op, key):
    out = {}
    for k, v in group([r for r in rows if r["op"] == op], key).items():
        out[k] = {f: stats(v, f) for f in ("per_s", "client_cpu_us", "ca_cpu_us")}
    return out


enr = table_of("enroll", lambda r: (r["client"], r["inflight"]))
ren = table_of("renew", lambda r: (r["client"], r["auth"], r["inflight"]))
bat = table_of("batch", lambda r: (r["client"], r["kty"]))
batch_devices = next((r.get("devices") for r in rows if r["op"] == "batch" and r["client"] == "stepca"), None)
one = group([r for r in rows if r["op"] == "oneshot"], lambda r: r["client"])
size = next((r["stripped_so_bytes"] for r in rows if r["op"] == "size"), 0)
profile = next((r for r in rows if r["op"] == "profile"), None)
verify_per_s = next((r["p256_verify_per_s"] for r in rows if r["op"] == "speed"), 0)

NAMES = {"libstepca": "libstepca (C ABI)", "go": "Go: net/http + crypto/x509, chain verified",
         "go-caclient": "Go: smallstep ca.Client", "go-post": "Go: post-only floor (one CSR, nothing checked)",
         "python": "Python plugin", "python-stepca": "Python drop-in (libstepca)",
         "step": "`step ca renew`, a process each", "stepca": "`stepca batch`"}


def spread(s):
    return f"±{s['spread'] * 50:.0f}%" if s["spread"] is not None else "–"


cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2")
out = []
w = out.append
w("# Benchmarks\n")
w("Measured by `scripts/bench.sh` (one command from a fresh clone: it installs the Python plugin in")
w("a venv, builds the Go clients, starts a local step-ca, runs every client against it in the same")
w("run, and rewrites this file).\n")
w(f"- Machine: {os.cpu_count()} cores ({cpu.strip()}), {platform.system()} {platform.release()}")
libver = next((l.split('"')[1] for l in open("Cargo.toml") if l.startswith("version")), "?")
w(f"- Versions: libstepca {libver}, "
  f"{sh('rustc --version')}, {sh('go version')}, Python {platform.python_version()} with "
  f"swarmauri-certservice-stepca 0.3.3, github.com/smallstep/certificates/ca v0.30.2, {versions}")
w("- Every measurement ran in rounds, clients interleaved; each figure is the median of its rounds,")
w("  and ± is half the spread between the rounds' highest and lowest, relative to the median. Two")
w("  figures closer than their spreads are within the noise (2 shared cores: step-ca, the client")
w("  and the kernel compete for them).")
w("- step-ca: a fresh local CA on 127.0.0.1 (EC P-256 intermediate, badger DB, text logging), the")
w("  same for every client. Enrollment tokens are minted beforehand (libstepca's in-process JWK")
w("  provisioner); the batch mints its own.\n")

w(f"## CSR creation in process (µs per CSR; lower is better; median of {csr_rounds} rounds)\n")
w("| key | libstepca (C ABI) | Go crypto/x509 | Python plugin | Python drop-in (libstepca) | vs Go | vs plugin | drop-in vs plugin |")
w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for k in ["ec-p256", "ec-p384", "ed25519", "rsa-2048"]:
    lib, go, py = csr.get(("libstepca", k)), csr.get(("go", k)), csr.get(("python", k))
    dropin = csr.get(("python-stepca", k))
    f = lambda v: f"{v:.1f}" if v else "–"
    vs_py = f"{py / lib:.1f}×" if py and lib else "–"
    vs_go = f"{go / lib:.1f}×" if go and lib else "–"
    d_py = f"{py / dropin:.1f}×" if py and dropin else "–"
    w(f"| {k} | {f(lib)} | {f(go)} | {f(py)} | {f(dropin)} | {vs_go} | {vs_py} | {d_py} |")
w("")
w("The plugin's P-384 path is not measured: its `supports()` does not list P-384.\n")


def rows_table(title, keys, label, rounds_note):
    w(title + "\n")
    w(rounds_note + "\n")
    w("| in flight | client | per second | ± | client CPU per cert (µs) | ± | step-ca CPU per cert (µs) |")
    w("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for k, inflight in keys:
        r = label(k)
        if r is None:
            continue
        name, s = r
        w(f"| {inflight} | {name} | {s['per_s']['median']:.0f} | {spread(s['per_s'])} | "
          f"{s['client_cpu_us']['median']:.0f} | {spread(s['client_cpu_us'])} | {s['ca_cpu_us']['median']:.0f} |")
    w("")


rounds_of = lambda t: max((v["per_s"]["rounds"] for v in t.values()), default=0)
ENROLL_CLIENTS = ["libstepca", "go", "go-caclient", "go-post", "python", "python-stepca"]
rows_table("## Enrollment throughput (P-256, one shared client per program)",
           [((c, n), n) for n in [1, 8, 32] for c in ENROLL_CLIENTS],
           lambda k: (NAMES[k[0]], enr[k]) if k in enr else None,
           f"Rounds: {rounds_of(enr)}. Per enrollment, libstepca, the Go client and ca.Client each "
           "generate a new P-256 key and build and sign its CSR; libstepca and the Go client verify the "
           "returned chain up to the root and check the leaf certifies the key (ca.Client returns what "
           "the CA sent). The post-only floor reuses one CSR and checks nothing. The Python rows reuse "
           "one key file (the plugin takes a key reference).")

rows_table("## Renewal throughput (each device renews in a row, every renewal's certificate the next one's credential)",
           [((c, a, n), n) for n in [1, 8, 32] for a in ["mtls", "token"] for c in ["libstepca", "go-caclient", "step"]],
           lambda k: ((f"{NAMES[k[0]]}, {'mutual TLS' if k[1] == 'mtls' else 'x5c token'}"), ren[k]) if k in ren else None,
           f"Rounds: {rounds_of(ren)}. One device (key and certificate) per worker. Over mutual TLS each "
           "renewal presents the newest certificate, so each is a new TLS connection (as for a device "
           "that renews once a period); by token (`step ca renew --mtls=false`, libstepca "
           "STEPCA_RENEW_TOKEN) the certificate's key signs an x5cInsecure token and connections are "
           "kept alive. `step ca renew` runs as a process per renewal (its figures include process start).")

if bat:
    w(f"## Batch: {batch_devices or '?'} devices, a new key each, 8 in flight\n")
    w(f"Rounds: {rounds_of(bat)}. `stepca batch` (one process for the whole manifest, tokens minted in "
      "process, NAME.key and NAME.crt written) against the same work in Go with ca.Client and "
      "ca.Provisioner at the same parallelism, both timed as whole processes (start and provisioner "
      "key decryption included), and a loop of `step ca certificate` (one process a "
      "device, its per-certificate time; fewer devices).\n")
    w("| key | program | devices/s | ± | ms per device | client CPU per device (µs) |")
    w("| --- | --- | ---: | ---: | ---: | ---: |")
    for kty in ["ec-p256", "rsa-2048"]:
        for c, name in [("stepca", "`stepca batch`"),
                        ("stepca-nosync", "`stepca batch`, fsync made a no-op (eatmydata; not a mode to use)"),
                        ("go-caclient", "Go: ca.Client + ca.Provisioner (no fsync)"),
                        ("step", "`step ca certificate` loop")]:
            r = bat.get((c, kty))
            if r:
                per_s = r["per_s"]["median"]
                w(f"| {kty} | {name} | {per_s:.0f} | {spread(r['per_s'])} | {1000 / per_s:.1f} | "
                  f"{r['client_cpu_us']['median']:.0f} |")
    w("")

w("## One enrollment or renewal as a whole process (median)\n")
w("| program | wall time (ms) | peak RSS (MB) |")
w("| --- | ---: | ---: |")
med = {}
for c, rs in one.items():
    med[c] = (statistics.median(r["wall_s"] for r in rs) * 1000, statistics.median(r["rss_kib"] for r in rs) / 1024)
    w(f"| {c} | {med[c][0]:.0f} | {med[c][1]:.1f} |")
w("")
w(f"Stripped `libstepca.so`: {size / 1e6:.2f} MB.\n")

w("## Targets\n")


def compare(a, b, higher_is_better):
    """met / within the noise / not met, for figure a against b."""
    am, bm = a["median"], b["median"]
    better = am >= bm if higher_is_better else am <= bm
    noise = max(a["spread"] or 0, b["spread"] or 0) / 2
    if better:
        return "met"
    return "within the noise" if abs(am - bm) / bm <= noise else "not met"


def target_lines(title, table, pairs, field, higher):
    """One target line: libstepca's row ka against the bar's row kb of `table`, per pair."""
    verdicts, details = [], []
    for (ka, kb, where) in pairs:
        if ka in table and kb in table:
            v = compare(table[ka][field], table[kb][field], higher)
            verdicts.append(v)
            details.append(f"{where}: {table[ka][field]['median']:.0f} vs {table[kb][field]['median']:.0f} ({v})")
    if not verdicts:
        return
    overall = "met" if all(v == "met" for v in verdicts) else (
        "not met" if any(v == "not met" for v in verdicts) else "met within the noise")
    w(f"- {title}: **{overall}**. " + "; ".join(details) + ".")


for bar in ["go", "go-caclient", "go-post"]:
    target_lines(f"Enrollments/s at least {NAMES[bar]}'s at 1, 8 and 32 in flight", enr,
                 [(("libstepca", n), (bar, n), f"{n}") for n in [1, 8, 32]], "per_s", True)
for bar in ["go", "go-caclient"]:
    target_lines(f"Client CPU per enrollment below {NAMES[bar]}'s (µs)", enr,
                 [(("libstepca", n), (bar, n), f"{n}") for n in [1, 8, 32]], "client_cpu_us", False)
for auth in ["mtls", "token"]:
    for bar in ["go-caclient", "step"]:
        target_lines(f"Renewals/s ({'mutual TLS' if auth == 'mtls' else 'token'}) at least {NAMES[bar]}'s", ren,
                     [(("libstepca", auth, n), (bar, auth, n), f"{n}") for n in [1, 8, 32]], "per_s", True)
    target_lines(f"Client CPU per renewal ({'mutual TLS' if auth == 'mtls' else 'token'}) below ca.Client's (µs)", ren,
                 [(("libstepca", auth, n), ("go-caclient", auth, n), f"{n}") for n in [1, 8, 32]], "client_cpu_us", False)
target_lines("Batch devices/s at least the Go ca.Client batch's", bat,
             [(("stepca", k), ("go-caclient", k), k) for k in ["ec-p256", "rsa-2048"]], "per_s", True)
target_lines("Batch devices/s without fsync (eatmydata) at least the Go batch's, which never fsyncs", bat,
             [(("stepca-nosync", "ec-p256"), ("go-caclient", "ec-p256"), "ec-p256")], "per_s", True)


def verdict(ok):
    return "**met**" if ok else "**not met**"


faster_go = all(csr.get(("libstepca", k), 1e9) < csr.get(("go", k), 0) for k in ["ec-p256", "ec-p384", "ed25519", "rsa-2048"])
p256 = csr.get(("python", "ec-p256"), 0) / csr.get(("libstepca", "ec-p256"), 1)
rsa = csr.get(("python", "rsa-2048"), 0) / csr.get(("libstepca", "rsa-2048"), 1)
w(f"- CSR creation faster than Go's crypto/x509 for every key type: {verdict(faster_go)}; than the plugin by ≥4× "
  f"(P-256) and ≥20× (RSA-2048): {verdict(p256 >= 4 and rsa >= 20)} ({p256:.1f}× and {rsa:.1f}×).")
both = [n for n in [1, 8, 32] if ("python", n) in enr and ("python-stepca", n) in enr]
if both:
    ok = all(enr[("python-stepca", n)]["per_s"]["median"] > enr[("python", n)]["per_s"]["median"]
             and enr[("python-stepca", n)]["client_cpu_us"]["median"] < enr[("python", n)]["client_cpu_us"]["median"]
             for n in both)
    ratios = ", ".join(f"{enr[('python-stepca', n)]['per_s']['median'] / enr[('python', n)]['per_s']['median']:.1f}× at {n}"
                       for n in both)
    w(f"- The Python drop-in (one import changed) enrolls faster than the plugin, with less client CPU: "
      f"{verdict(ok)} ({ratios}).")
c, s_ = med.get("C example (libstepca)"), med.get("step ca certificate")
if c and s_:
    w(f"- One-shot enrollment faster than `step ca certificate`: {verdict(c[0] < s_[0])} ({c[0]:.0f} vs {s_[0]:.0f} ms); "
      f"C example peak RSS ≤ 10 MB: {verdict(c[1] <= 10)} ({c[1]:.1f} MB).")
c, s_ = med.get("stepca renew"), med.get("step ca renew")
if c and s_:
    w(f"- One-shot renewal faster than `step ca renew`: {verdict(c[0] < s_[0])} ({c[0]:.0f} vs {s_[0]:.0f} ms).")
w("")

if profile and "error" in profile:
    w("## Where a P-256 enrollment's client CPU goes\n")
    w(f"Not measured in this run: perf could not record here ({profile['error'].strip()}).\n")
elif profile and ("libstepca", 8) in enr:
    per_cert = enr[("libstepca", 8)]["client_cpu_us"]["median"]
    w("## Where a P-256 enrollment's client CPU goes (perf, libstepca at 8 in flight)\n")
    w(f"`perf record --call-graph dwarf` of `bench enroll 8 ... new` ({profile['samples']} samples in the "
      "enrollment threads), each sample given to the first of these its stack names (bench/profile_split.py); "
      f"µs are the share of the {per_cert:.0f} µs of client CPU per enrollment in the table above.\n")
    w("| where | share | µs per enrollment |")
    w("| --- | ---: | ---: |")
    for k, v in profile["shares"].items():
        w(f"| {k} | {v * 100:.1f}% | {v * per_cert:.0f} |")
    w("")
    w("What the profile says, and what was and was not cut:\n")
    w("- Cut after the previous profile (730 µs of client CPU per enrollment at 8 in flight,")
    w("  commit 79fea51), each measured by itself with `bench enroll 8 ... new 3000`, 3 rounds")
    w("  against one CA, medians (the first with the old and new bench interleaved, the next two")
    w("  against the figure of the step before): a CSR built and sent in one")
    w("  call (`stepca_enroll`, Rust `Client::sign_csr`) is not read back and its self-signature")
    w("  not verified a second time (730 → 634 µs; `stepca_sign_cert` still verifies CSRs given")
    w("  as bytes before asking for a token); a client remembers signatures that verified, by")
    w("  their exact bytes, so the intermediate's signature by the root is verified once per")
    w("  client while webpki still validates every path in full, dates and constraints included")
    w("  (634 → 517 µs; the CA's TLS chain likewise, once per process, which mutual-TLS renewals")
    w("  gain from: each opens a connection); a generated key is not re-read from its PKCS#8,")
    w("  which checked its public key a second time (517 → 470 µs); each issued certificate is")
    w("  parsed once, not once on reading and again for the chain check (429 → 407 µs, 8 rounds")
    w("  with the old and new library interleaved: the machine drifted between the steps).")
    w("- What is left is mostly work no client can skip: one P-256 signature check of each issued")
    w("  leaf, generating the key and signing the CSR (aws-lc), and the kernel's loopback TCP.")
    rest = sum(v for k, v in profile["shares"].items() if k.startswith(("HTTP", "TLS", "JSON")))
    w(f"  HTTP, TLS and JSON together are {rest * 100:.0f}% ({rest * per_cert:.0f} µs).")
    w("- Earlier profiles led to changes now in place: no thread per request for host")
    w("  resolution (ureq resolved on a new thread each time), and aws-lc built without its")
    w("  CPU-jitter entropy source (25 ms per process start).")
    skipped = sum(v for k, v in profile["shares"].items() if k.startswith(("key generation", "CSR")))
    w("- The post-only floor reuses one CSR and checks nothing it gets back: it skips generating")
    w(f"  a key and signing a CSR ({skipped * 100:.0f}% here, {skipped * per_cert:.0f} µs) and the leaf's signature")
    verify = f"{1e6 / verify_per_s:.0f} µs" if verify_per_s else "not measured"
    w(f"  check (one P-256 verification: {verify} by `openssl speed ecdsap256` on this machine), work")
    w("  that libstepca does not make optional. Its throughput is a bound, not a target to meet")
    w("  by skipping checks; where the floor's row leads, that is the reason.")
    w("- `stepca batch` fsyncs each key and certificate, the journal's record of each request")
    w("  before it is sent, and the directory, so that a kill or a power loss loses no issued")
    w("  certificate; the Go batch writes without fsync. The `eatmydata` row runs the same batch")
    w("  with fsync made a no-op, to show what that costs here")
    durable, nosync = bat.get(("stepca", "ec-p256")), bat.get(("stepca-nosync", "ec-p256"))
    if durable and nosync:
        w(f"  ({durable['per_s']['median']:.0f} against {nosync['per_s']['median']:.0f} P-256 devices/s, "
          f"{durable['client_cpu_us']['median']:.0f} against {nosync['client_cpu_us']['median']:.0f} µs")
        w("  of client CPU per device).")
    else:
        w("  (not measured in this run).")
    w("  Workers waiting at the same moment share the journal's and the directory's fsyncs")
    w("  (group commit): 2804 → 2343 fsync calls for 400 devices at `--parallel 8`; a chain's")
    w("  rename and its `done` record are synced once at the end of the run instead of per")
    w("  device (a run stopped earlier finds each chain in place or in the temporary file its")
    w("  durable `sign` record names): 2338 → 1803 calls, 341–352 → 363–379 P-256 devices/s in")
    w("  3 interleaved rounds.")
    rs, rg = bat.get(("stepca", "rsa-2048")), bat.get(("go-caclient", "rsa-2048"))
    if rs and rg:
        w(f"- The RSA-2048 batch is key generation, mostly: {rs['client_cpu_us']['median'] / 1000:.0f} against "
          f"{rg['client_cpu_us']['median'] / 1000:.0f} ms of client CPU per device")
        w("  (aws-lc's RSA key generation against Go's; building and signing the CSR from a key is")
        w("  faster here than in Go, see the CSR table).")
    w("")
# scripts/footprint.sh --write owns the last section (cross builds, measured apart): keep it.
try:
    prev = open("BENCHMARKS.md").read()
    at = prev.find("\n## Footprint on ARM boards")
    if at >= 0:
        out.append(prev[at + 1:].rstrip("\n"))
        out.append("")
except OSError:
    pass
print("\n".join(out))

# Every bar of scripts/bench.sh must have run: a missing one fails the run (and the smoke
# run in scripts/test.sh), rather than leaving a table quietly short.
expected = [("enroll", (c, n)) for c in ENROLL_CLIENTS for n in [1, 8, 32]]
expected += [("renew", (c, a, n)) for c in ["libstepca", "go-caclient", "step"] for a in ["mtls", "token"] for n in [1, 8, 32]]
expected += [("batch", (c, k)) for c in ["stepca", "go-caclient", "step"] for k in ["ec-p256", "rsa-2048"]]
expected += [("batch", ("stepca-nosync", "ec-p256"))]
have = {"enroll": enr, "renew": ren, "batch": bat}
missing = [f"{op} {k}" for op, k in expected if k not in have[op]]
missing += [f"oneshot {c}" for c in ["C example (libstepca)", "step ca certificate", "stepca certificate",
                                     "step ca renew", "stepca renew"] if c not in one]
missing += ["profile"] if profile is None else []
if missing:
    sys.exit("bench_report: no figures for " + ", ".join(missing))
