"""One client shared by 32 threads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import stepca


def test_32_threads_share_one_client(jwk_client: stepca.Client, ca_root: str) -> None:
    with open(ca_root, "rb") as f:
        root = f.read()
    errors = []

    def enroll(i: int) -> str:
        key = stepca.PrivateKey.generate("EC-P256" if i % 2 else "Ed25519")
        name = f"t{i}.example.com"
        csr = stepca.create_csr(key, {"CN": name}, dns=[name])
        chain = jwk_client.sign(csr)
        assert chain.common_name == name
        chain.verify([root])
        cred = stepca.Credential(chain, key)
        renewed = jwk_client.renew(cred)
        return renewed.chain.serial

    start = threading.Barrier(32)

    def run(i: int) -> str:
        start.wait()
        try:
            return enroll(i)
        except Exception as e:  # collected and reported below
            errors.append(e)
            raise

    with ThreadPoolExecutor(32) as pool:
        serials = list(pool.map(run, range(32)))
    assert not errors
    assert len(set(serials)) == 32


def test_calls_run_concurrently(client: stepca.Client, mint) -> None:
    """A token provider that waits for all 8 threads: the calls overlap (the core does not
    serialize them, the GIL is released while each waits); serialized, the barrier would
    break after 30 s and every sign fail."""
    tokens = {}
    for i in range(8):
        name = f"c{i}.example.com"
        tokens[name] = mint(name, name)
    inside = 0
    most = 0
    lock = threading.Lock()
    everyone = threading.Barrier(8, timeout=30)

    def provider(claims):
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        everyone.wait()
        with lock:
            inside -= 1
        return tokens[claims["sub"]]

    shared = client.with_token_provider(provider)

    def one(name: str) -> str:
        key = stepca.PrivateKey.generate()
        return shared.sign(stepca.create_csr(key, {"CN": name}, dns=[name])).common_name

    with ThreadPoolExecutor(8) as pool:
        names = list(pool.map(one, tokens))
    assert names == list(tokens)
    assert most == 8


def test_gil_released_during_sign(jwk_client: stepca.Client) -> None:
    """A pure-Python thread keeps running while other threads are in network calls."""
    stop = threading.Event()
    ticks = 0

    def spin() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1

    t = threading.Thread(target=spin)
    t.start()
    try:
        key = stepca.PrivateKey.generate("RSA-3072")  # key generation releases it too
        for i in range(5):
            jwk_client.sign(stepca.create_csr(key, {"CN": f"g{i}.example.com"}, dns=[f"g{i}.example.com"]))
    finally:
        stop.set()
        t.join()
    assert ticks > 0
