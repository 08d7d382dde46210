"""Splits `perf script -F comm,pid,tid,ip,sym,dso` output (call graphs) of `bench enroll` into
where libstepca's client CPU goes, for scripts/bench.sh. Prints one JSON line:
{"op": "profile", "samples": N, "shares": {category: fraction of the loop's samples}}.

Only samples of the enrollment threads (every thread but the main one) count: process
start, client creation and token reading are the main thread's, outside the figure bench.c
reports. Deep stacks may be cut at perf's copy of the stack; the frames nearest the sample,
which name its category, are kept. A sample whose
innermost frame is the kernel's is "kernel" (system calls, loopback TCP, page faults); the
others go to the first category, in the order below, that one of their frames names.
"""

import json
import re
import sys

CATEGORIES = [
    ("key generation", re.compile(r"stepca_key_generate")),
    ("CSR (build, sign, and the check before sending)", re.compile(r"stepca_create_csr|stepca::csr::")),
    ("TLS (rustls: records, handshakes)", re.compile(r"rustls::")),
    ("chain checks (parse, path validation, leaf key)", re.compile(r"stepca::chain::|webpki::|x509_parser::")),
    ("JSON", re.compile(r"serde_json::|serde::")),
    ("token", re.compile(r"stepca::token|stepca::jose")),
    ("HTTP (ureq, request and response)", re.compile(r"ureq::|ureq_proto::|stepca::http::|stepca::client::")),
]
KERNEL = "kernel (system calls, loopback TCP)"
OTHER = "other (allocator, libc, the rest)"


def samples(lines):
    """(in a worker thread, frames innermost first) for each sample."""
    frames, worker = None, False
    for line in lines:
        if not line.strip():
            if frames is not None:
                yield worker, frames
            frames = None
        elif not line.startswith(("\t", " ")):
            # "comm pid/tid"
            ids = line.split()[-1].split("/")
            worker = len(ids) == 2 and ids[0] != ids[1]
            frames = []
        elif frames is not None:
            frames.append(line.strip())
    if frames:
        yield worker, frames


def main():
    counts, total = {}, 0
    for worker, frames in samples(sys.stdin):
        if not worker:
            continue
        total += 1
        if frames and "[kernel.kallsyms]" in frames[0]:
            cat = KERNEL
        else:
            cat = next((name for name, rx in CATEGORIES if any(rx.search(f) for f in frames)), OTHER)
        counts[cat] = counts.get(cat, 0) + 1
    shares = {k: round(v / total, 4) for k, v in sorted(counts.items(), key=lambda kv: -kv[1])} if total else {}
    print(json.dumps({"op": "profile", "samples": total, "shares": shares}))
    sys.exit(0 if total else 1)


if __name__ == "__main__":
    main()
