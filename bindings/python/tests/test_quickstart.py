"""The plugin README's quickstart, with only the import line changed, enrolls against the
local step-ca.

The example is taken from the plugin's own README (tests/data/plugin-README.md, as
published with swarmauri-certservice-stepca 0.3.3). The only edit to its code is the import
line. Its placeholders are the environment's: the CA URL "https://ca.example" names the
local step-ca, trusted the way the plugin trusted it by default (the system roots, here
SSL_CERT_FILE), and the files it reads (device.key.pem, otts/<CN>.txt) are made here.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import stepca

HERE = pathlib.Path(__file__).resolve().parent
OLD_IMPORT = "from swarmauri_certservice_stepca import StepCaCertService"
NEW_IMPORT = "from stepca.swarmauri import StepCaCertService"


def quickstart_code() -> str:
    readme = (HERE / "data" / "plugin-README.md").read_text()
    section = readme.split("## Quickstart", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_quickstart_with_only_the_import_changed(tmp_path: pathlib.Path, mint, ca_url: str, ca_root: str) -> None:
    code = quickstart_code()
    assert code.count(OLD_IMPORT) == 1
    changed = code.replace(OLD_IMPORT, NEW_IMPORT)
    diff = [(a, b) for a, b in zip(code.splitlines(), changed.splitlines()) if a != b]
    assert diff == [(OLD_IMPORT, NEW_IMPORT)]
    # The deployment the README's placeholders stand for.
    assert 'ca_url="https://ca.example"' in changed
    script = changed.replace('"https://ca.example"', repr(ca_url))
    (tmp_path / "quickstart.py").write_text(script)
    key = stepca.PrivateKey.generate("RSA-2048")  # the README's KeyType.RSA
    (tmp_path / "device.key.pem").write_text(key.to_pem())
    (tmp_path / "otts").mkdir()
    token = mint("device-001.example.com", "device-001.example.com", "device-001")
    (tmp_path / "otts" / "device-001.example.com.txt").write_text(token + "\n")
    env = dict(os.environ, SSL_CERT_FILE=ca_root)
    out = subprocess.run([sys.executable, "quickstart.py"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Certificate written to device.pem" in out.stdout
    pem = (tmp_path / "device.pem").read_bytes()
    chain = stepca.Chain(pem)
    assert len(chain) == 2  # the leaf, then its intermediate (0.3.3 dropped it)
    leaf = chain.parse()
    assert leaf["subject_attrs"][-1] == ("CN", "device-001.example.com")
    assert sorted(leaf["san"]["dns"]) == ["device-001", "device-001.example.com"]
    assert leaf["public_key"]["type"] == "RSA"
    with open(ca_root, "rb") as f:
        chain.verify([f.read()])
