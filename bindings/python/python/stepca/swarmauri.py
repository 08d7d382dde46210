"""Drop-in for ``swarmauri_certservice_stepca`` 0.3.3 on libstepca.

Change ``from swarmauri_certservice_stepca import StepCaCertService`` to
``from stepca.swarmauri import StepCaCertService``: same constructor, same async methods
with the same arguments, registered under the same entry-point group
(``swarmauri.cert_services``). What differs, each a defect of 0.3.3 fixed:

- named EKUs (``serverAuth``, ...) work, as do dotted OIDs;
- ``sign_cert`` returns the leaf followed by its intermediates (PEM; a reader taking the
  first certificate sees the leaf, as before); with ``output_der`` the leaf's DER;
- the token provider is told every SAN of every type (``sans``), not only DNS names, plus
  ``sans_by_type``, ``aud``, ``provisioner`` (``opts["provisioner"]`` or the service's)
  and ``csr_fingerprint``;
- the request carries step-ca's fields only (no ``provisioner``/``token``);
- ``sig_alg`` is honoured or refused (RSA-PSS CSRs are refused: ``supports()`` lists only
  what works);
- ``extra_rdns``, ``name_constraints``, ``subject_key_identifier`` and ``extensions["extra"]``
  are encoded; ``upn`` and ``authority_key_identifier`` (no meaning in a CSR) raise;
- keys may be PEM or DER, PKCS#8/SEC1/PKCS#1, encrypted (``opts["passphrase"]``), and are
  parsed once and cached;
- ``verify_cert`` path-validates for real and ``parse_cert`` parses.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import os
import threading
from typing import (
    Any,
    Awaitable,
    Callable,
    Dict,
    Iterable,
    List,
    Literal,
    Mapping,
    Optional,
    Sequence,
    Union,
)

from pydantic import Field, PrivateAttr

from swarmauri_base.certs.CertServiceBase import CertServiceBase
from swarmauri_base.ComponentBase import ResourceTypes
from swarmauri_core.certs.ICertService import (
    AltNameSpec,
    CertBytes,
    CertExtensionSpec,
    CsrBytes,
    SubjectSpec,
)
from swarmauri_core.crypto.types import KeyRef

from . import _stepca
from .errors import ChainInvalid, InvalidArgument, NoTokenError, StepCaError, UnsupportedError

# The standard attributes in the order 0.3.3 wrote them (CN last); extra_rdns go before CN.
_SUBJECT_ORDER = ("C", "ST", "L", "O", "OU", "emailAddress")

_KEY_USAGE = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
    "encipher_only",
    "decipher_only",
)


# --- DER for the extensions the core takes as raw values --------------------------------


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + length + content


def _general_name(kind: str, value: str) -> bytes:
    if kind == "dns":
        return _der(0x82, value.encode("ascii"))
    if kind == "email":
        return _der(0x81, value.encode("ascii"))
    if kind == "uri":
        return _der(0x86, value.encode("ascii"))
    if kind == "ip":
        net = ipaddress.ip_network(value, strict=False)
        return _der(0x87, net.network_address.packed + net.netmask.packed)
    raise InvalidArgument(f"name_constraints: unknown name type {kind!r}")


def _name_constraints(spec: Mapping[str, Sequence[str]]) -> bytes:
    """RFC 5280 NameConstraints from a swarmauri NameConstraintsSpec."""
    permitted: List[bytes] = []
    excluded: List[bytes] = []
    for key, values in spec.items():
        which, _, kind = key.partition("_")
        if which not in ("permitted", "excluded") or kind not in ("dns", "ip", "uri", "email"):
            raise InvalidArgument(f"name_constraints: unknown field {key!r}")
        for v in values or ():
            # GeneralSubtree ::= SEQUENCE { base GeneralName, ... }
            (permitted if which == "permitted" else excluded).append(
                _der(0x30, _general_name(kind, v))
            )
    body = b""
    if permitted:
        body += _der(0xA0, b"".join(permitted))
    if excluded:
        body += _der(0xA1, b"".join(excluded))
    if not body:
        raise InvalidArgument("name_constraints: no permitted or excluded subtree")
    return _der(0x30, body)


def _as_bytes(data: Union[bytes, bytearray, str]) -> bytes:
    return data.encode() if isinstance(data, str) else bytes(data)


def _split_certs(data: Union[bytes, str, Sequence[Union[bytes, str]], None]) -> List[bytes]:
    """Certificates (DER) from one PEM bundle, one DER certificate, or a list of them."""
    if data is None:
        return []
    if isinstance(data, (bytes, bytearray, str)):
        return list(_stepca.load_certificates(_as_bytes(data)))
    out: List[bytes] = []
    for item in data:
        out.extend(_stepca.load_certificates(_as_bytes(item)))
    return out


class StepCaCertService(CertServiceBase):
    """X.509 CSR and certificate service on step-ca, on libstepca.

    Implements RFC 2986 CSRs and RFC 5280 certificate handling; enrollment at step-ca's
    ``/1.0/sign`` with one-time tokens.
    """

    resource: Optional[str] = Field(default=ResourceTypes.CRYPTO.value, frozen=True)
    type: Literal["StepCaCertService"] = "StepCaCertService"

    ca_url: str
    verify_tls: Union[bool, str, bytes] = True
    timeout_s: float = 6.0
    provisioner: Optional[str] = None
    token_provider: Optional[Callable[[Dict[str, Any]], Awaitable[str]]] = None

    _client: Optional[Any] = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)
    _keys: Dict[bytes, Any] = PrivateAttr(default_factory=dict)

    def __init__(
        self,
        ca_url: str,
        *,
        verify_tls: Union[bool, str, bytes] = True,
        timeout_s: float = 6.0,
        provisioner: Optional[str] = None,
        token_provider: Optional[Callable[[Dict[str, Any]], Awaitable[str]]] = None,
    ) -> None:
        super().__init__(
            ca_url=ca_url.rstrip("/"),
            verify_tls=verify_tls,
            timeout_s=float(timeout_s),
            provisioner=provisioner,
            token_provider=token_provider,
        )

    # --- the client ------------------------------------------------------------------

    def _trust_kwargs(self) -> Dict[str, Any]:
        v = self.verify_tls
        if v is True:
            return {}
        if v is False:
            return {"verify_tls": False}
        if isinstance(v, (bytes, bytearray)):
            return {"root_pem": bytes(v)}
        if isinstance(v, str):
            if "-----BEGIN" in v:
                return {"root_pem": v.encode()}
            return {"root": os.fspath(v)}
        raise InvalidArgument("verify_tls: a bool, a CA bundle path, or PEM bytes")

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = _stepca.Client(
                    self.ca_url,
                    provisioner=self.provisioner,
                    timeout=self.timeout_s,
                    connect_timeout=min(self.timeout_s, 10.0),
                    allow_insecure_http=self.ca_url.startswith("http://"),
                    **self._trust_kwargs(),
                )
            return self._client

    async def aclose(self) -> None:
        """Closes the client's connections (a later call opens new ones)."""
        with self._lock:
            self._client = None

    # --- capabilities ----------------------------------------------------------------

    def supports(self) -> Mapping[str, Iterable[str]]:
        """What this service really does (nothing listed that is not implemented)."""
        return {
            "key_algs": ("RSA-2048", "RSA-3072", "RSA-4096", "EC-P256", "EC-P384", "Ed25519"),
            "sig_algs": (
                "RSA-PKCS1-SHA256",
                "RSA-PKCS1-SHA384",
                "RSA-PKCS1-SHA512",
                "ECDSA-P256-SHA256",
                "ECDSA-P384-SHA384",
                "Ed25519",
            ),
            "features": ("csr", "sign_from_csr", "verify", "parse", "remote_ca"),
        }

    # --- keys ------------------------------------------------------------------------

    def _key(self, ref: KeyRef, opts: Optional[Dict[str, Any]]) -> Any:
        if ref is None or getattr(ref, "material", None) is None:
            raise InvalidArgument(
                "key: KeyRef.material (the private key, PEM or DER) is required to create a CSR"
            )
        material = _as_bytes(ref.material)
        passphrase = (opts or {}).get("passphrase") or (opts or {}).get("key_passphrase")
        cache_key = hashlib.sha256(
            material + b"\0" + (_as_bytes(passphrase) if passphrase else b"")
        ).digest()
        key = self._keys.get(cache_key)
        if key is None:
            key = _stepca.PrivateKey.load(material, passphrase)
            if len(self._keys) >= 64:
                self._keys.pop(next(iter(self._keys)))
            self._keys[cache_key] = key
        return key

    # --- CSR -------------------------------------------------------------------------

    async def create_csr(
        self,
        key: KeyRef,
        subject: SubjectSpec,
        *,
        san: Optional[AltNameSpec] = None,
        extensions: Optional[CertExtensionSpec] = None,
        sig_alg: Optional[str] = None,
        challenge_password: Optional[str] = None,
        output_der: bool = False,
        opts: Optional[Dict[str, Any]] = None,
    ) -> CsrBytes:
        """Builds and signs a PKCS#10 CSR (RFC 2986) with ``key``."""
        sk = self._key(key, opts)
        req = _stepca.CsrRequest()
        subject = dict(subject or {})
        for name in _SUBJECT_ORDER:
            if subject.get(name):
                req.add_subject(name, subject[name])
        for name, value in (subject.get("extra_rdns") or {}).items():
            req.add_subject(name, value)
        if subject.get("CN"):
            req.add_subject("CN", subject["CN"])
        unknown = set(subject) - set(_SUBJECT_ORDER) - {"CN", "extra_rdns"}
        if unknown:
            raise InvalidArgument(
                f"subject: unknown field(s) {sorted(unknown)} (put other RDNs in extra_rdns)"
            )

        ext = dict(extensions or {})
        san = dict(san or ext.get("subject_alt_name") or {})
        for kind in ("dns", "ip", "email", "uri"):
            for value in san.get(kind) or ():
                req.add_san(kind, str(value))
        if san.get("upn"):
            raise UnsupportedError(
                "san.upn: userPrincipalName SANs are not supported by step-ca's X.509 sign API"
            )
        unknown = set(san) - {"dns", "ip", "email", "uri", "upn"}
        if unknown:
            raise InvalidArgument(f"san: unknown field(s) {sorted(unknown)}")

        bc = ext.get("basic_constraints")
        if bc is not None:
            req.set_basic_constraints(bool(bc.get("ca", False)), bc.get("path_len"))
        ku = ext.get("key_usage")
        if ku is not None:
            bad = set(ku) - set(_KEY_USAGE)
            if bad:
                raise InvalidArgument(f"key_usage: unknown bit(s) {sorted(bad)}")
            req.set_key_usage([name for name in _KEY_USAGE if ku.get(name)])
        eku = ext.get("extended_key_usage")
        if eku:
            for oid in eku.get("oids") or ():
                req.add_ext_key_usage(str(oid))
        nc = ext.get("name_constraints")
        if nc:
            req.add_extension("2.5.29.30", _name_constraints(nc), True)
        if ext.get("subject_key_identifier"):
            # RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING.
            ski = hashlib.sha1(sk.public_key_raw).digest()
            req.add_extension("2.5.29.14", _der(0x04, ski), False)
        if ext.get("authority_key_identifier"):
            raise UnsupportedError(
                "extensions.authority_key_identifier: a CSR has no issuer; the CA sets it"
            )
        for oid, value in (ext.get("extra") or {}).items():
            critical = False
            if isinstance(value, Mapping):
                critical = bool(value.get("critical", False))
                value = value.get("value", value.get("der"))
            if not isinstance(value, (bytes, bytearray)):
                raise InvalidArgument(
                    f"extensions.extra[{oid!r}]: give the extension's DER value as bytes, "
                    "or {'value': bytes, 'critical': bool}"
                )
            req.add_extension(str(oid), bytes(value), critical)
        unknown = set(ext) - {
            "basic_constraints",
            "key_usage",
            "extended_key_usage",
            "name_constraints",
            "subject_alt_name",
            "subject_key_identifier",
            "authority_key_identifier",
            "extra",
        }
        if unknown:
            raise InvalidArgument(f"extensions: unknown field(s) {sorted(unknown)}")

        if challenge_password:
            req.set_challenge_password(challenge_password)
        if sig_alg:
            req.set_signature_algorithm(sig_alg)
        csr = req.build(sk)
        return bytes(csr.der) if output_der else csr.pem.encode()

    async def create_self_signed(self, *a: Any, **kw: Any) -> CertBytes:
        """Not offered: step-ca issues certificates (see ``supports()``)."""
        raise NotImplementedError(
            "StepCaCertService issues certificates through step-ca; create_self_signed is not offered"
        )

    # --- sign ------------------------------------------------------------------------

    async def sign_cert(
        self,
        csr: CsrBytes,
        ca_key: KeyRef,
        *,
        issuer: Optional[SubjectSpec] = None,
        ca_cert: Optional[CertBytes] = None,
        serial: Optional[int] = None,
        not_before: Optional[int] = None,
        not_after: Optional[int] = None,
        extensions: Optional[CertExtensionSpec] = None,
        sig_alg: Optional[str] = None,
        output_der: bool = False,
        opts: Optional[Dict[str, Any]] = None,
    ) -> CertBytes:
        """Exchanges a CSR (PEM or DER) at step-ca's ``/1.0/sign``.

        Returns the leaf followed by its intermediates as PEM (or the leaf's DER with
        ``output_der``). The token is ``opts["ott"]`` (or ``opts["token"]``), else the
        awaited ``token_provider(claims)``. ``opts["template_data"]`` becomes
        ``templateData``; ``opts["extra"]`` may set ``notBefore``/``notAfter``/
        ``templateData`` (step-ca ignores any other field, so others are refused).
        ``issuer``, ``ca_cert``, ``serial``, ``extensions`` and ``sig_alg`` are decided
        by the CA's provisioner and are not sent, as before.
        """
        opts = dict(opts or {})
        template_data = opts.get("template_data")
        for k, v in dict(opts.get("extra") or {}).items():
            if k == "notBefore" and not_before is None:
                not_before = int(v)
            elif k == "notAfter" and not_after is None:
                not_after = int(v)
            elif k == "templateData" and template_data is None:
                template_data = v
            else:
                raise InvalidArgument(
                    f"opts.extra[{k!r}]: not a field of step-ca's sign request "
                    "(notBefore, notAfter, templateData)"
                )
        client = self._get_client()
        ott = opts.get("ott") or opts.get("token")
        token: Any
        if isinstance(ott, str) and ott:
            token = ott
        elif self.token_provider is not None:
            loop = asyncio.get_running_loop()
            provider = self.token_provider
            provisioner = opts.get("provisioner") or self.provisioner

            def token(claims: Dict[str, Any]) -> str:
                # Called on the worker thread by the core, with every SAN of every type.
                claims = dict(claims)
                claims["provisioner"] = provisioner
                result = asyncio.run_coroutine_threadsafe(_await(provider, claims), loop)
                return result.result()

        else:
            raise NoTokenError(
                "StepCaCertService.sign_cert requires 'ott' in opts or a token_provider on the service."
            )
        loop = asyncio.get_running_loop()
        chain = await loop.run_in_executor(
            None,
            lambda: client.sign(
                _as_bytes(csr),
                token=token,
                not_before=int(not_before) if not_before else None,
                not_after=int(not_after) if not_after else None,
                template_data=template_data,
            ),
        )
        if output_der:
            return bytes(chain.leaf_der)
        return chain.pem.encode()

    # --- verify and parse ------------------------------------------------------------

    async def verify_cert(
        self,
        cert: CertBytes,
        *,
        trust_roots: Optional[Sequence[CertBytes]] = None,
        intermediates: Optional[Sequence[CertBytes]] = None,
        check_time: Optional[int] = None,
        check_revocation: bool = False,
        opts: Optional[Dict[str, Any]] = None,
    ) -> Dict[str, Any]:
        """Path-validates ``cert`` (PEM: a leaf, optionally followed by its chain; or DER)
        with ``intermediates`` up to one of ``trust_roots`` at ``check_time`` (default now):
        signatures, validity of every certificate, basicConstraints, path length,
        keyUsage/extendedKeyUsage nesting (rustls-webpki).

        Without ``trust_roots``: the service's ``verify_tls`` bundle, else (``verify_tls``
        True) the roots step-ca serves at ``/roots``, fetched over verified TLS. Revocation
        is not checked (``revocation_checked`` False). Returns ``valid``, ``reason`` and
        the leaf's subject, issuer, validity, ``is_ca`` and ``chain_len``.
        """
        certs = _split_certs(cert)
        if not certs:
            raise InvalidArgument("cert: no certificate")
        chain_certs = certs + _split_certs(intermediates)
        roots = _split_certs(trust_roots)
        if not roots:
            roots = await self._default_roots()
        info = _stepca.parse_certificate(certs[0], False)
        result: Dict[str, Any] = {
            "valid": False,
            "reason": None,
            "subject": info["subject"],
            "issuer": info["issuer"],
            "not_before": info["not_before"],
            "not_after": info["not_after"],
            "is_ca": info["is_ca"],
            "chain_len": len(chain_certs),
            "revocation_checked": False,
        }
        if not roots:
            result["reason"] = "no trust roots (give trust_roots, or verify_tls as a bundle)"
            return result
        try:
            _stepca.Chain(chain_certs).verify(roots, check_time)
        except ChainInvalid as e:
            result["reason"] = e.message
            return result
        except StepCaError as e:
            result["reason"] = str(e)
            return result
        result["valid"] = True
        return result

    async def _default_roots(self) -> List[bytes]:
        v = self.verify_tls
        if isinstance(v, (bytes, bytearray)) or (isinstance(v, str) and "-----BEGIN" in v):
            return _split_certs(v)
        if isinstance(v, str):
            with open(v, "rb") as f:
                return _split_certs(f.read())
        if v is True:
            client = self._get_client()
            loop = asyncio.get_running_loop()
            return list(await loop.run_in_executor(None, client.ca_roots))
        return []

    async def parse_cert(
        self,
        cert: CertBytes,
        *,
        include_extensions: bool = True,
        opts: Optional[Dict[str, Any]] = None,
    ) -> Dict[str, Any]:
        """Parses a certificate (PEM: the first one; or DER) into a JSON-serializable dict:
        ``version``, ``serial`` (int), ``serial_hex``, ``subject``/``issuer`` (RFC 4514)
        and ``subject_attrs``/``issuer_attrs``, ``not_before``/``not_after`` (UNIX
        seconds), ``sig_alg``, ``public_key`` (type, bits, curve), ``fingerprint_sha256``,
        ``is_ca``; with extensions ``san`` (dns, ip, uri, email), ``eku``, ``key_usage``,
        ``basic_constraints``, ``ski``, ``aki`` and ``extensions`` (oid, name, critical).
        """
        return dict(_stepca.parse_certificate(_as_bytes(cert), include_extensions))


async def _await(provider: Callable[[Dict[str, Any]], Any], claims: Dict[str, Any]) -> str:
    result = provider(claims)
    if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
        result = await result
    return result


__all__ = ["StepCaCertService"]
