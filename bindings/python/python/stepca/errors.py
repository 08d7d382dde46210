"""The exceptions libstepca raises.

Every one is a :class:`StepCaError` carrying

- ``code``: the permanent numeric code (the C ``stepca_status``: 1 invalid argument,
  10 key, 30 token provider, 40 transport, 41 TLS, 50 rejected by the CA, ...),
- ``kind``: the same as a name (``"ca_rejected"``),
- ``message``: what went wrong, naming the offending field,
- ``http_status``: the HTTP status step-ca answered with, or ``None``,
- ``ca_message``: step-ca's own ``message``, or ``None``,
- ``received``: what step-ca sent when it issued something that failed the checks here
  (PEM), so an issued certificate is never lost, or ``None``,
- ``clock_skew``: this device's clock minus the CA's, in seconds, when measured.

A token provider's own exception is the ``__cause__`` of the :class:`TokenError`.
"""

from __future__ import annotations

from typing import Optional


class StepCaError(Exception):
    """Base class of every libstepca error."""

    code: int = 4
    kind: str = "internal"
    message: str = ""
    http_status: Optional[int] = None
    ca_message: Optional[str] = None
    received: Optional[str] = None
    clock_skew: Optional[int] = None

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(StepCaError, ValueError):
    """A parameter had an invalid value (the message names it)."""


class UnsupportedError(InvalidArgument):
    """A feature this build or this key does not support."""


class KeyFormatError(InvalidArgument):
    """The private key could not be decoded or is of an unsupported type."""


class KeyPassphraseError(KeyFormatError):
    """The key is encrypted and the passphrase is missing or wrong."""


class CsrError(InvalidArgument):
    """A CSR could not be built, or a CSR given is invalid."""


class TokenError(StepCaError):
    """The token provider failed or returned no usable token."""


class NoTokenError(TokenError, ValueError):
    """Neither a per-call token nor a token provider was available."""


class SignerError(StepCaError):
    """An external signer failed."""


class TransportError(StepCaError, ConnectionError):
    """Connecting or talking to the CA failed (refused, reset, DNS, ...)."""


class TlsError(TransportError):
    """The TLS handshake failed (untrusted or invalid server certificate, protocol)."""


class FingerprintError(TlsError):
    """Bootstrapping by fingerprint failed: the CA's root does not match."""


class CaTimeoutError(TransportError, TimeoutError):
    """The call did not complete within its timeout."""


class ClockError(StepCaError):
    """The client's clock is outside what the configured roots allow."""


class CaRejected(StepCaError):
    """step-ca answered with an HTTP error (see ``http_status`` and ``ca_message``)."""


class MalformedResponse(StepCaError):
    """step-ca's answer could not be understood."""


class ChainInvalid(MalformedResponse):
    """The issued chain does not carry the CSR's key or does not verify (see ``received``)."""


class StepCaIOError(StepCaError, OSError):
    """A file could not be read or written (the message names the path)."""


__all__ = [
    "StepCaError",
    "InvalidArgument",
    "UnsupportedError",
    "KeyFormatError",
    "KeyPassphraseError",
    "CsrError",
    "TokenError",
    "NoTokenError",
    "SignerError",
    "TransportError",
    "TlsError",
    "FingerprintError",
    "CaTimeoutError",
    "ClockError",
    "CaRejected",
    "MalformedResponse",
    "ChainInvalid",
    "StepCaIOError",
]
