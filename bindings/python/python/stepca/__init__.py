"""libstepca for Python: a step-ca X.509 client on the libstepca Rust core.

Keys (:class:`PrivateKey`), CSRs (:class:`CsrRequest`, :func:`create_csr`), a
:class:`Client` (sign, renew, rekey, revoke; shareable between threads, the GIL released
during network calls), :class:`Chain`, :class:`Credential` and a background
:class:`Renewer`. Errors are :class:`StepCaError` subclasses (see :mod:`stepca.errors`).

The swarmauri drop-in is :class:`stepca.swarmauri.StepCaCertService`.
"""

from __future__ import annotations

import atexit
from typing import Any

from . import _stepca, errors
from ._stepca import (
    Chain,
    Client,
    Credential,
    Csr,
    CsrRequest,
    PrivateKey,
    Renewer,
    capabilities,
    fingerprint,
    load_certificates,
    parse_certificate,
    version,
)
from .errors import *  # noqa: F401,F403

__version__ = version()

# Renewer threads call back into Python: stop them before the interpreter finalizes.
atexit.register(_stepca._stop_all_renewers)


def create_csr(key: PrivateKey, subject: Any = None, **kwargs: Any) -> Csr:
    """Builds and signs a CSR: ``create_csr(key, {"CN": "dev1"}, dns=["dev1.example"])``.

    Takes :class:`CsrRequest`'s arguments.
    """
    return CsrRequest(subject, **kwargs).build(key)


__all__ = [
    "Chain",
    "Client",
    "Credential",
    "Csr",
    "CsrRequest",
    "PrivateKey",
    "Renewer",
    "capabilities",
    "create_csr",
    "fingerprint",
    "load_certificates",
    "parse_certificate",
    "version",
    "errors",
] + list(errors.__all__)
