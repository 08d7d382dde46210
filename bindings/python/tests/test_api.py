"""The Pythonic API end to end against step-ca."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time

import pytest

import stepca
from stepca import errors


@pytest.mark.parametrize(
    "kind,alg,bits",
    [
        ("EC-P256", "EC-P256", 256),
        ("EC-P384", "EC-P384", 384),
        ("Ed25519", "Ed25519", 256),
        ("RSA-2048", "RSA", 2048),
    ],
)
def test_generate_and_reload(kind: str, alg: str, bits: int) -> None:
    key = stepca.PrivateKey.generate(kind)
    assert key.algorithm == alg and key.bits == bits
    again = stepca.PrivateKey.load(key.to_pem())
    assert again.public_key_der == key.public_key_der
    assert stepca.PrivateKey.load(key.to_der()).public_key_der == key.public_key_der
    enc = key.to_pem(passphrase="s3cret")
    assert "ENCRYPTED PRIVATE KEY" in enc
    assert stepca.PrivateKey.load(enc, "s3cret").public_key_der == key.public_key_der
    with pytest.raises(errors.KeyPassphraseError) as e:
        stepca.PrivateKey.load(enc, "wrong")
    assert e.value.code == 11 and e.value.kind == "key_passphrase"


def test_bad_key_is_key_error() -> None:
    with pytest.raises(errors.KeyFormatError) as e:
        stepca.PrivateKey.load(b"not a key")
    assert e.value.code == 10
    assert isinstance(e.value, ValueError)


def test_csr_fields_are_checked() -> None:
    key = stepca.PrivateKey.generate()
    with pytest.raises(errors.InvalidArgument) as e:
        stepca.create_csr(key, {"CN": "x"}, ip=["10.0.0.256"])
    assert "san.ip" in str(e.value) and e.value.code == 1
    with pytest.raises(errors.InvalidArgument):
        stepca.create_csr(key, {"CN": "x" * 65})
    with pytest.raises(errors.UnsupportedError):
        stepca.CsrRequest({"CN": "x"}, sig_alg="RSA-PSS-SHA256")
    req = stepca.CsrRequest([("O", "Example"), ("CN", "dev1")], dns=["dev1"], email=["a@b.example"],
                            uri=["spiffe://example/dev1"], ext_key_usage=["serverAuth", "1.2.3.4"],
                            key_usage=["digital_signature"], challenge_password="pw")
    csr = req.build(key)
    info = csr.info()
    assert info["common_name"] == "dev1"
    assert info["sans"] == [("dns", "dev1"), ("email", "a@b.example"), ("uri", "spiffe://example/dev1")]
    assert csr.pem.startswith("-----BEGIN CERTIFICATE REQUEST-----")
    assert stepca.Csr.load(csr.der).fingerprint == csr.fingerprint


def test_sign_with_a_step_token(client: stepca.Client, mint, ca_root: str) -> None:
    key = stepca.PrivateKey.generate("EC-P256")
    csr = stepca.create_csr(key, {"CN": "tok.example.com"}, dns=["tok.example.com"])
    chain = client.sign(csr, token=mint("tok.example.com", "tok.example.com"))
    assert len(chain) == 2
    assert chain.common_name == "tok.example.com"
    assert chain.pem.count("BEGIN CERTIFICATE") == 2
    assert chain.pem.startswith(chain.leaf_pem)
    assert len(chain.der) == 2 and chain.der[0] == chain.leaf_der
    assert len(chain.intermediates_pem) == 1
    assert chain.not_before < time.time() < chain.not_after
    assert chain.not_before < chain.renew_after() < chain.not_after
    leaf = chain.parse()
    assert leaf["subject"] == "CN=tok.example.com"
    assert leaf["san"]["dns"] == ["tok.example.com"]
    assert leaf["serial"] == int(chain.serial)
    assert leaf["public_key"] == {"type": "EC", "curve": "P-256", "bits": 256}
    assert chain.parse(1)["is_ca"] is True
    with open(ca_root, "rb") as f:
        root = f.read()
    chain.verify([root])
    assert stepca.fingerprint(root) == os.environ["STEPCA_FINGERPRINT"]
    # A chain read back from its PEM is the same chain.
    assert stepca.Chain(chain.pem).serial == chain.serial


def test_chain_verify_fails_on_other_root_and_time(client: stepca.Client, enrolled) -> None:
    with open(os.environ["STEPCA_FACTORY_ROOT"], "rb") as f:
        other = f.read()
    with pytest.raises(errors.ChainInvalid) as e:
        enrolled.chain.verify([other])
    assert e.value.code == 52
    with open(os.environ["STEPCA_ROOT"], "rb") as f:
        root = f.read()
    with pytest.raises(errors.ChainInvalid, match="expired"):
        enrolled.chain.verify([root], at=enrolled.chain.not_after + 10)


def test_sign_with_provider_sees_every_san(client: stepca.Client, mint) -> None:
    seen = []

    def provider(claims):
        seen.append(claims)
        return mint(claims["sub"], *claims["sans"])

    key = stepca.PrivateKey.generate("Ed25519")
    csr = stepca.create_csr(key, {"CN": "multi.example.com"}, dns=["multi.example.com"],
                            ip=["10.1.2.3"], email=["ops@example.com"], uri=["spiffe://example/multi"])
    chain = client.with_token_provider(provider).sign(csr)
    san = chain.parse()["san"]
    assert san["ip"] == ["10.1.2.3"] and san["email"] == ["ops@example.com"]
    assert san["uri"] == ["spiffe://example/multi"]
    (claims,) = seen
    assert claims["sans_by_type"]["ip"] == ["10.1.2.3"]
    assert claims["aud"].endswith("/1.0/sign") and claims["purpose"] == "sign"
    assert claims["csr_fingerprint"] == csr.fingerprint


def test_sign_options(jwk_client: stepca.Client) -> None:
    key = stepca.PrivateKey.generate()
    csr = stepca.create_csr(key, {"CN": "short.example.com"}, dns=["short.example.com"])
    now = int(time.time())
    chain = jwk_client.sign(csr, not_before=now - 60, not_after=now + 3600, template_data={"x": 1})
    assert chain.not_after == now + 3600
    with pytest.raises(errors.InvalidArgument, match="not_after"):
        jwk_client.sign(csr, not_before=now, not_after=now - 1)


def test_renew_rekey_revoke(client: stepca.Client, jwk_client: stepca.Client, enrolled) -> None:
    renewed = client.renew(enrolled)
    assert renewed.chain.serial != enrolled.chain.serial
    assert renewed.chain.parse()["public_key"] == enrolled.chain.parse()["public_key"]
    by_token = client.renew(renewed, auth="token")
    assert by_token.chain.common_name == "dev.example.com"
    new_key = stepca.PrivateKey.generate("EC-P384")
    rekeyed = client.rekey(by_token, new_key)
    assert rekeyed.key.public_key_der == new_key.public_key_der
    assert rekeyed.chain.parse()["san"]["dns"] == ["dev.example.com"]
    # Revoke by serial with a minted revoke token, then with the certificate itself.
    jwk_client.revoke(renewed.chain.serial, reason_code=1, reason="key lost")
    client.revoke_certificate(rekeyed, reason_code=4)
    with pytest.raises(errors.CaRejected) as e:
        client.renew(rekeyed)
    assert e.value.http_status == 401 and e.value.code == 50 and e.value.ca_message


def test_credential_from_files(enrolled) -> None:
    cred = stepca.Credential(enrolled.chain.pem, enrolled.key.to_pem(passphrase="pw"), "pw")
    assert cred.chain.serial == enrolled.chain.serial
    other = stepca.PrivateKey.generate()
    with pytest.raises(errors.StepCaError):
        stepca.Credential(enrolled.chain, other)


def test_errors_carry_fields(client: stepca.Client, ca_url: str, ca_root: str) -> None:
    key = stepca.PrivateKey.generate()
    csr = stepca.create_csr(key, {"CN": "e.example.com"}, dns=["e.example.com"])
    # Rejected by step-ca: its message and status come through.
    with pytest.raises(errors.CaRejected) as e:
        client.sign(csr, token="not-a-token")
    assert e.value.http_status in (400, 401, 403) and e.value.ca_message
    assert e.value.received is None and e.value.kind == "ca_rejected"
    # No token at all.
    with pytest.raises(errors.NoTokenError) as e:
        client.sign(csr)
    assert e.value.code == 31 and isinstance(e.value, ValueError)
    # A provider's own exception is the cause.
    def failing(claims):
        raise LookupError("no token for this device")
    with pytest.raises(errors.TokenError) as e:
        client.sign(csr, token=failing)
    assert isinstance(e.value.__cause__, LookupError) and e.value.code == 30
    # Nothing listens: a transport error.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    dead = stepca.Client(f"https://127.0.0.1:{port}", root=ca_root, timeout=5.0)
    with pytest.raises(errors.TransportError) as e:
        dead.health()
    assert e.value.code in (40, 42) and isinstance(e.value, ConnectionError)
    # Untrusted: the system roots do not know the test CA.
    untrusted = stepca.Client(ca_url, timeout=5.0)
    with pytest.raises(errors.TlsError) as e:
        untrusted.health()
    assert e.value.code == 41
    with pytest.raises(errors.FingerprintError):
        stepca.Client(ca_url, fingerprint="00" * 32, timeout=5.0)
    with pytest.raises(errors.InvalidArgument):
        stepca.Client("http://127.0.0.1:1")


def test_bootstrap_by_fingerprint(ca_url: str, ca_root: str) -> None:
    c = stepca.Client(ca_url, fingerprint=os.environ["STEPCA_FINGERPRINT"])
    c.health()
    with open(ca_root, "rb") as f:
        assert c.roots == stepca.load_certificates(f.read())
    assert c.version()
    assert c.ca_roots() == c.roots


def test_renewer_renews_and_stops(client: stepca.Client, jwk_client: stepca.Client, tmp_path) -> None:
    key = stepca.PrivateKey.generate()
    csr = stepca.create_csr(key, {"CN": "renew.example.com"}, dns=["renew.example.com"])
    now = int(time.time())
    cred = stepca.Credential(jwk_client.sign(csr, not_after=now + 60), key)
    events = []
    renewed = threading.Event()

    def on_event(ev):
        events.append(ev)
        if ev["kind"] == "renewed":
            renewed.set()

    cert_file = tmp_path / "dev.crt"
    with stepca.Renewer(client, cred, on_event, cert_file=str(cert_file), period=1.0,
                        retry_min=0.5, retry_max=1.0) as r:
        assert renewed.wait(30), events
        current = r.credential
    kinds = [e["kind"] for e in events]
    assert "scheduled" in kinds and "renewed" in kinds
    ev = next(e for e in events if e["kind"] == "renewed")
    assert isinstance(ev["credential"], stepca.Credential) and ev["rekeyed"] is False
    assert current.chain.serial != cred.chain.serial
    assert stepca.Chain(cert_file.read_bytes()).common_name == "renew.example.com"
    n = len(events)
    time.sleep(1.5)
    assert len(events) == n  # nothing after stop


def test_capabilities_and_version() -> None:
    import json

    caps = json.loads(stepca.capabilities())
    assert caps
    assert stepca.__version__ == stepca.version()


def test_exit_with_a_running_renewer(tmp_path, enrolled) -> None:
    """The interpreter exits cleanly while a renewer runs (atexit stops it) and while one
    was dropped unstopped; an exception in the callback is reported, not fatal."""
    (tmp_path / "dev.crt").write_text(enrolled.chain.pem)
    (tmp_path / "dev.key").write_text(enrolled.key.to_pem())
    script = tmp_path / "run.py"
    script.write_text(
        "import os, threading, stepca\n"
        "c = stepca.Client(os.environ['STEPCA_URL'], root=os.environ['STEPCA_ROOT'])\n"
        "cred = stepca.Credential(open('dev.crt').read(), open('dev.key').read())\n"
        "seen = threading.Event()\n"
        "def cb(ev):\n"
        "    seen.set()\n"
        "    raise RuntimeError('callback failed')\n"
        "r = stepca.Renewer(c, cred, cb, period=1.0, retry_min=0.2, retry_max=0.5)\n"
        "r2 = stepca.Renewer(c, cred, cb, period=1.0)\n"
        "del r2\n"
        "assert seen.wait(10)\n"
        "print('bye')\n"
    )
    out = subprocess.run([os.sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "bye"
    assert "callback failed" in out.stderr and "FATAL" not in out.stderr
