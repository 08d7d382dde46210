"""The drop-in stepca.swarmauri.StepCaCertService: every method, and each defect of
swarmauri-certservice-stepca 0.3.3 (../shared/docs/python-plugin.md) fixed."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from importlib import metadata

import pytest

import stepca
from stepca import errors
from stepca.swarmauri import StepCaCertService
from swarmauri_base.certs.CertServiceBase import CertServiceBase
from swarmauri_core.crypto.types import ExportPolicy, KeyRef, KeyType, KeyUse


def run(coro):
    return asyncio.run(coro)


def key_ref(material, kind=KeyType.EC) -> KeyRef:
    return KeyRef(kid="k", version=1, type=kind, uses=(KeyUse.SIGN,),
                  export_policy=ExportPolicy.SECRET_WHEN_ALLOWED, material=material)


@pytest.fixture
def ec_key():
    return stepca.PrivateKey.generate("EC-P256")


@pytest.fixture
def service(ca_url, ca_root):
    return StepCaCertService(ca_url, verify_tls=ca_root, timeout_s=30.0)


def openssl_text(csr_pem: bytes) -> str:
    out = subprocess.run(["openssl", "req", "-noout", "-text", "-verify"], input=csr_pem,
                         capture_output=True, check=True)
    return out.stdout.decode() + out.stderr.decode()


def test_is_a_cert_service_registered_under_the_plugins_group(ca_url) -> None:
    svc = StepCaCertService(ca_url + "/")
    assert isinstance(svc, CertServiceBase)
    assert svc.ca_url == ca_url  # trailing slash stripped
    assert svc.timeout_s == 6.0 and svc.verify_tls is True and svc.type == "StepCaCertService"
    eps = metadata.entry_points()
    group = eps.select(group="swarmauri.cert_services") if hasattr(eps, "select") else eps["swarmauri.cert_services"]
    ep = next(e for e in group if e.name == "StepCaCertService" and e.value.startswith("stepca."))
    assert ep.load() is StepCaCertService


def test_supports_lists_only_what_works(service) -> None:
    caps = service.supports()
    assert "RSA-PSS-SHA256" not in caps["sig_algs"]
    assert set(caps["features"]) >= {"csr", "sign_from_csr", "verify", "parse", "remote_ca"}
    for alg in caps["key_algs"]:
        stepca.PrivateKey.generate(alg)


def test_named_ekus_work(service, ec_key) -> None:
    """0.3.3: extended_key_usage names raised 'error parsing asn1 value'."""
    csr = run(service.create_csr(key_ref(ec_key.to_pem().encode()), {"CN": "eku.example.com"},
                                 extensions={"extended_key_usage": {"oids": ["serverAuth", "clientAuth", "1.3.6.1.5.5.7.3.4"]}}))
    text = openssl_text(csr)
    assert "TLS Web Server Authentication" in text and "TLS Web Client Authentication" in text
    assert "E-mail Protection" in text


def test_create_csr_every_field(service, ec_key) -> None:
    """0.3.3 silently ignored extra_rdns, name_constraints, subject_key_identifier, extra."""
    csr = run(service.create_csr(
        key_ref(ec_key.to_pem().encode()),
        {"C": "US", "ST": "CA", "L": "SF", "O": "Example Corp", "OU": "Devices",
         "emailAddress": "ops@example.com", "CN": "full.example.com",
         "extra_rdns": {"serialNumber": "SN-1", "2.5.4.12": "Sensor"}},
        san={"dns": ["full.example.com"], "ip": ["10.0.0.1", "::1"], "uri": ["spiffe://ex/full"],
             "email": ["dev@example.com"]},
        extensions={
            "basic_constraints": {"ca": False},
            "key_usage": {"digital_signature": True, "key_encipherment": True},
            "name_constraints": {"permitted_dns": [".example.com"], "excluded_ip": ["10.9.0.0/16"]},
            "subject_key_identifier": True,
            "extra": {"1.2.3.4.5": {"value": b"\x05\x00", "critical": False}},
        },
        challenge_password="pw123",
    ))
    text = openssl_text(csr)
    assert "verify OK" in text
    for expected in ("serialNumber", "SN-1", "Sensor", "Name Constraints", "DNS:.example.com",
                     "IP:10.9.0.0/255.255.0.0", "Subject Key Identifier", "1.2.3.4.5",
                     "IP Address:10.0.0.1", "URI:spiffe://ex/full", "email:dev@example.com",
                     "Digital Signature, Key Encipherment", "challengePassword", "CA:FALSE"):
        assert expected in text, expected
    der = run(service.create_csr(key_ref(ec_key.to_pem().encode()), {"CN": "d"}, output_der=True))
    assert der[0] == 0x30


def test_upn_and_aki_are_refused_not_ignored(service, ec_key) -> None:
    ref = key_ref(ec_key.to_pem().encode())
    with pytest.raises(errors.UnsupportedError, match="upn"):
        run(service.create_csr(ref, {"CN": "u"}, san={"upn": ["u@example"]}))
    with pytest.raises(errors.UnsupportedError, match="authority_key_identifier"):
        run(service.create_csr(ref, {"CN": "u"}, extensions={"authority_key_identifier": True}))
    with pytest.raises(errors.InvalidArgument, match="subject"):
        run(service.create_csr(ref, {"CN": "u", "Bogus": "x"}))


def test_sig_alg_is_honoured(service) -> None:
    """0.3.3 ignored sig_alg (always SHA-256) and advertised RSA-PSS."""
    rsa = stepca.PrivateKey.generate("RSA-2048")
    ref = key_ref(rsa.to_pem().encode(), KeyType.RSA)
    csr = run(service.create_csr(ref, {"CN": "r"}, sig_alg="RSA-PKCS1-SHA384"))
    assert "sha384WithRSAEncryption" in openssl_text(csr)
    with pytest.raises(errors.UnsupportedError):
        run(service.create_csr(ref, {"CN": "r"}, sig_alg="RSA-PSS-SHA256"))


def test_keys_der_and_encrypted(service) -> None:
    """0.3.3 loaded only unencrypted PEM."""
    key = stepca.PrivateKey.generate("EC-P384")
    for material, opts in ((key.to_der(), None), (key.to_pem("pw").encode(), {"passphrase": "pw"})):
        csr = run(service.create_csr(key_ref(material), {"CN": "k"}, opts=opts))
        assert stepca.Csr.load(csr).info()["common_name"] == "k"
    with pytest.raises(errors.KeyPassphraseError):
        run(service.create_csr(key_ref(key.to_pem("pw").encode()), {"CN": "k"}))


def test_sign_cert_returns_leaf_then_chain(service, ec_key, mint, ca_root) -> None:
    """0.3.3 dropped the intermediates."""
    ref = key_ref(ec_key.to_pem().encode())
    csr = run(service.create_csr(ref, {"CN": "s.example.com"}, san={"dns": ["s.example.com"]}))
    pem = run(service.sign_cert(csr, ref, opts={"ott": mint("s.example.com", "s.example.com")}))
    chain = stepca.Chain(pem)
    assert len(chain) == 2 and chain.common_name == "s.example.com"
    assert pem.startswith(chain.leaf_pem.encode())
    # DER CSR in, DER leaf out; opts["token"] as 0.3.3 accepted it.
    der_csr = run(service.create_csr(ref, {"CN": "s.example.com"}, san={"dns": ["s.example.com"]}, output_der=True))
    der = run(service.sign_cert(der_csr, ref, output_der=True,
                                opts={"token": mint("s.example.com", "s.example.com")}))
    assert stepca.parse_certificate(der)["subject"] == "CN=s.example.com"


def test_token_provider_sees_every_san_type(ca_url, ca_root, ec_key, mint) -> None:
    """0.3.3 told the provider DNS SANs only, so step-ca rejected the token."""
    seen = []

    async def provider(claims):
        seen.append(claims)
        await asyncio.sleep(0)
        return mint(claims["sub"], *claims["sans"])

    svc = StepCaCertService(ca_url, verify_tls=ca_root, provisioner="admin", token_provider=provider)
    ref = key_ref(ec_key.to_pem().encode())

    async def go():
        csr = await svc.create_csr(ref, {"CN": "ip.example.com"},
                                   san={"dns": ["ip.example.com"], "ip": ["192.0.2.7"],
                                        "email": ["me@example.com"], "uri": ["spiffe://ex/ip"]})
        out = await svc.sign_cert(csr, ref, opts={"template_data": {"env": "test"}})
        await svc.aclose()
        return out

    pem = run(go())
    san = stepca.parse_certificate(pem)["san"]
    assert san["ip"] == ["192.0.2.7"] and san["email"] == ["me@example.com"] and san["uri"] == ["spiffe://ex/ip"]
    (claims,) = seen
    assert set(claims["sans"]) == {"ip.example.com", "192.0.2.7", "me@example.com", "spiffe://ex/ip"}
    assert claims["sub"] == "ip.example.com"
    # 0.3.3 dropped the service's provisioner when opts came without one.
    assert claims["provisioner"] == "admin"


def test_opts_provisioner_and_validity(ca_url, ca_root, ec_key, mint) -> None:
    seen = []

    async def provider(claims):
        seen.append(claims["provisioner"])
        return mint(claims["sub"], *claims["sans"])

    svc = StepCaCertService(ca_url, verify_tls=ca_root, provisioner="admin", token_provider=provider)
    ref = key_ref(ec_key.to_pem().encode())
    now = int(time.time())
    csr = run(svc.create_csr(ref, {"CN": "v.example.com"}, san={"dns": ["v.example.com"]}))
    pem = run(svc.sign_cert(csr, ref, not_before=now - 30, not_after=now + 7200,
                            opts={"provisioner": "other-name"}))
    assert stepca.parse_certificate(pem)["not_after"] == now + 7200
    assert seen == ["other-name"]
    with pytest.raises(errors.InvalidArgument, match="extra"):
        run(svc.sign_cert(csr, ref, opts={"ott": "x", "extra": {"provisioner": "p"}}))


def test_sign_errors(service, ec_key) -> None:
    ref = key_ref(ec_key.to_pem().encode())
    csr = run(service.create_csr(ref, {"CN": "n.example.com"}))
    with pytest.raises(ValueError):  # as 0.3.3: no token, no provider
        run(service.sign_cert(csr, ref))
    with pytest.raises(errors.CaRejected) as e:
        run(service.sign_cert(csr, ref, opts={"ott": "garbage"}))
    assert e.value.http_status and e.value.ca_message


def test_verify_cert(service, ec_key, mint, ca_root) -> None:
    """0.3.3 advertised verify without implementing it."""
    ref = key_ref(ec_key.to_pem().encode())
    csr = run(service.create_csr(ref, {"CN": "vf.example.com"}, san={"dns": ["vf.example.com"]}))
    pem = run(service.sign_cert(csr, ref, opts={"ott": mint("vf.example.com", "vf.example.com")}))
    root = open(ca_root, "rb").read()
    ok = run(service.verify_cert(pem, trust_roots=[root]))
    assert ok["valid"] is True and ok["reason"] is None and ok["chain_len"] == 2
    assert ok["subject"] == "CN=vf.example.com" and ok["revocation_checked"] is False
    # The leaf alone plus its intermediate given separately; roots from verify_tls.
    chain = stepca.Chain(pem)
    ok2 = run(service.verify_cert(chain.leaf_der, intermediates=[chain.intermediates_pem[0].encode()]))
    assert ok2["valid"] is True
    # Roots fetched from step-ca when verify_tls is True (trusted here through SSL_CERT_FILE).
    other = open(os.environ["STEPCA_FACTORY_ROOT"], "rb").read()
    bad = run(service.verify_cert(pem, trust_roots=[other]))
    assert bad["valid"] is False and "root" in bad["reason"]
    late = run(service.verify_cert(pem, trust_roots=[root], check_time=chain.not_after + 60))
    assert late["valid"] is False and "expired" in late["reason"]
    lone = run(service.verify_cert(chain.leaf_pem.encode(), trust_roots=[root]))
    assert lone["valid"] is False


def test_verify_cert_with_roots_from_the_ca(ca_url, ca_root, ec_key, mint, monkeypatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", ca_root)
    svc = StepCaCertService(ca_url)  # verify_tls=True: system roots, here the test root
    ref = key_ref(ec_key.to_pem().encode())
    csr = run(svc.create_csr(ref, {"CN": "r.example.com"}, san={"dns": ["r.example.com"]}))
    pem = run(svc.sign_cert(csr, ref, opts={"ott": mint("r.example.com", "r.example.com")}))
    assert run(svc.verify_cert(pem))["valid"] is True
    off = StepCaCertService(ca_url, verify_tls=False)
    assert run(off.verify_cert(pem))["valid"] is False


def test_parse_cert(service, ec_key, mint) -> None:
    """0.3.3 advertised parse without implementing it."""
    ref = key_ref(ec_key.to_pem().encode())
    csr = run(service.create_csr(ref, {"CN": "p.example.com"}, san={"dns": ["p.example.com"], "ip": ["10.0.0.9"]}))
    pem = run(service.sign_cert(csr, ref, opts={"ott": mint("p.example.com", "p.example.com", "10.0.0.9")}))
    info = run(service.parse_cert(pem))
    json.dumps(info)  # JSON-serializable
    assert info["subject"] == "CN=p.example.com"
    assert "Intermediate" in info["issuer"]
    assert info["san"]["dns"] == ["p.example.com"] and info["san"]["ip"] == ["10.0.0.9"]
    assert set(info["eku"]) == {"serverAuth", "clientAuth"}
    assert info["not_before"] < time.time() < info["not_after"]
    assert isinstance(info["serial"], int) and info["sig_alg"]
    assert info["public_key"]["curve"] == "P-256" and info["is_ca"] is False
    assert info["ski"] and info["aki"] and info["key_usage"]
    der_info = run(service.parse_cert(stepca.Chain(pem).leaf_der, include_extensions=False))
    assert der_info["serial"] == info["serial"] and "san" not in der_info


def test_create_self_signed_not_offered(service, ec_key) -> None:
    with pytest.raises(NotImplementedError):
        run(service.create_self_signed(key_ref(ec_key.to_pem().encode()), {"CN": "x"}))


def test_aclose_then_reuse(service, ec_key, mint) -> None:
    ref = key_ref(ec_key.to_pem().encode())

    async def go():
        csr = await service.create_csr(ref, {"CN": "a.example.com"}, san={"dns": ["a.example.com"]})
        await service.sign_cert(csr, ref, opts={"ott": mint("a.example.com", "a.example.com")})
        await service.aclose()
        await service.aclose()  # idempotent
        return await service.sign_cert(csr, ref, opts={"ott": mint("a.example.com", "a.example.com")})

    assert b"BEGIN CERTIFICATE" in run(go())


def test_concurrent_sign_in_one_loop(service, ec_key, mint) -> None:
    ref = key_ref(ec_key.to_pem().encode())
    names = [f"n{i}.example.com" for i in range(8)]
    tokens = {n: mint(n, n) for n in names}

    async def one(n):
        csr = await service.create_csr(ref, {"CN": n}, san={"dns": [n]})
        return await service.sign_cert(csr, ref, opts={"ott": tokens[n]})

    async def go():
        return await asyncio.gather(*(one(n) for n in names))

    out = run(go())
    assert [stepca.Chain(p).common_name for p in out] == names


def test_request_carries_step_cas_fields_only(ec_key) -> None:
    """0.3.3 sent 'provisioner' and a duplicate 'token', which step-ca's sign request does
    not have. The request is captured by a local plain-HTTP server standing in for step-ca
    (an http:// ca_url, as the plugin allowed), which answers with a step-ca error."""
    import http.server
    import threading

    bodies = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            bodies.append((self.path, json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
            payload = json.dumps({"status": 403, "message": "provisioner not allowed here"}).encode()
            self.send_response(403)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        svc = StepCaCertService(f"http://127.0.0.1:{server.server_port}/", provisioner="devices")
        ref = key_ref(ec_key.to_pem().encode())
        csr = run(svc.create_csr(ref, {"CN": "b.example.com"}, san={"dns": ["b.example.com"]}))
        now = int(time.time())
        with pytest.raises(errors.CaRejected) as e:
            run(svc.sign_cert(csr, ref, not_after=now + 600,
                              opts={"ott": "tok", "provisioner": "x", "template_data": {"a": 1}}))
    finally:
        server.shutdown()
    assert e.value.http_status == 403 and e.value.ca_message == "provisioner not allowed here"
    ((path, body),) = bodies
    assert path == "/1.0/sign"
    assert set(body) == {"csr", "ott", "notAfter", "templateData"}
    assert body["ott"] == "tok" and body["templateData"] == {"a": 1}
    assert body["notAfter"].endswith("Z")
