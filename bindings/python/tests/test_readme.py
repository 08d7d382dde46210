"""This repository's README: the "Using it from Python" example runs against the local
step-ca, with its placeholders bound (the CA URL, the root file and fetch_token)."""

from __future__ import annotations

import re

import pytest

import stepca
from conftest import REPO


def readme_example() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Using it from Python", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_python_example_enrolls_renews_and_revokes(mint, ca_url: str, ca_root: str) -> None:
    code = readme_example()
    for placeholder in ('"https://ca.example:9000"', '"root_ca.crt"'):
        assert code.count(placeholder) == 1, placeholder
    code = code.replace('"https://ca.example:9000"', repr(ca_url)).replace('"root_ca.crt"', repr(ca_root))
    asked = []

    def fetch_token(subject, sans):
        asked.append((subject, list(sans)))
        return mint(subject, *sans)

    scope = {"fetch_token": fetch_token}
    exec(compile(code, "README.md (Using it from Python)", "exec"), scope)
    # One token for the enrollment (renewal is mutual TLS, the revocation by certificate).
    assert asked == [("dev1.example.com", ["dev1.example.com"])]
    renewed = scope["cred"].chain
    assert renewed.common_name == "dev1.example.com"
    assert renewed.serial != scope["chain"].serial
    # Revoked: the CA refuses to renew it.
    with pytest.raises(stepca.CaRejected):
        scope["client"].renew(scope["cred"])
