"""Fixtures: the step-ca started by scripts/with-ca.sh (STEPCA_* in the environment)."""

from __future__ import annotations

import os
import pathlib
import subprocess

import pytest

import stepca

REPO = pathlib.Path(__file__).resolve().parents[3]


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the tests under scripts/with-ca.sh")
    return value


@pytest.fixture(scope="session")
def ca_url() -> str:
    return _env("STEPCA_URL")


@pytest.fixture(scope="session")
def ca_root() -> str:
    return _env("STEPCA_ROOT")


@pytest.fixture(scope="session")
def password() -> str:
    with open(_env("STEPCA_PASSWORD_FILE")) as f:
        return f.read().strip()


@pytest.fixture(scope="session")
def mint():
    """mint(subject, *sans) -> a sign token from the real step CLI."""

    def mint(subject: str, *sans: str) -> str:
        out = subprocess.run(
            [str(REPO / "scripts" / "mint-token.sh"), subject, *sans],
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip()

    return mint


@pytest.fixture(scope="session")
def client(ca_url: str, ca_root: str) -> stepca.Client:
    return stepca.Client(ca_url, root=ca_root, timeout=30.0)


@pytest.fixture(scope="session")
def jwk_client(client: stepca.Client, password: str) -> stepca.Client:
    """The client with tokens minted in process by the "admin" JWK provisioner."""
    return client.with_jwk_provisioner(_env("STEPCA_PROVISIONER"), password)


@pytest.fixture
def enrolled(jwk_client: stepca.Client):
    """A fresh credential for CN=dev.example.com."""
    key = stepca.PrivateKey.generate("EC-P256")
    csr = stepca.create_csr(key, {"CN": "dev.example.com"}, dns=["dev.example.com"])
    return stepca.Credential(jwk_client.sign(csr), key)
