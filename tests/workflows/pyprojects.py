"""Small Python projects for test-environment tests that install without any network: a hand-made
wheel, and a project whose build backend lives in its own tree (no build requirements), which
writes an `<name>.egg-info/` into the source tree as setuptools does."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path


def make_wheel(folder: Path, name: str = "tinydep", version: str = "1.0") -> Path:
    """A real (minimal) wheel, so uv and pip install it without any network."""
    dist = f"{name}-{version}.dist-info"
    files = {f"{name}/__init__.py": b"VALUE = 42\n",
             f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
             f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = "".join(f"{path},sha256={_digest(data)},{len(data)}\n" for path, data in files.items()) + f"{dist}/RECORD,,\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in {**files, f"{dist}/RECORD": record.encode()}.items():
            zf.writestr(path, data)
    return wheel


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


BACKEND = '''
"""An in-tree PEP 517/660 backend: the package at src/demo_pkg, editable through a .pth file."""
import base64, hashlib, os, zipfile

NAME, VERSION = "demo_pkg", "1.0"


def _digest(data):
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _wheel(directory, files):
    dist = f"{NAME}-{VERSION}.dist-info"
    files = {**files, f"{dist}/METADATA": f"Metadata-Version: 2.1\\nName: {NAME}\\nVersion: {VERSION}\\n",
             f"{dist}/WHEEL": "Wheel-Version: 1.0\\nGenerator: t\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}
    encoded = {path: text.encode() for path, text in files.items()}
    record = "".join(f"{p},sha256={_digest(d)},{len(d)}\\n" for p, d in encoded.items()) + f"{dist}/RECORD,,\\n"
    name = f"{NAME}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, name), "w") as zf:
        for path, data in {**encoded, f"{dist}/RECORD": record.encode()}.items():
            zf.writestr(path, data)
    return name


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    with open("src/demo_pkg/__init__.py") as f:
        return _wheel(wheel_directory, {"demo_pkg/__init__.py": f.read()})


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    os.makedirs("src/demo_pkg.egg-info", exist_ok=True)  # as setuptools leaves one in the tree
    with open("src/demo_pkg.egg-info/PKG-INFO", "w") as f:
        f.write(f"Name: {NAME}\\n")
    return _wheel(wheel_directory, {"demo_pkg.pth": os.path.abspath("src") + "\\n"})
'''

PYPROJECT = """[build-system]
requires = []
build-backend = "backend"
backend-path = ["_build"]

[project]
name = "demo_pkg"
version = "1.0"
"""


def project_files(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A src-layout project with the in-tree backend, and a unittest suite."""
    return {"pyproject.toml": PYPROJECT, "_build/backend.py": BACKEND,
            "src/demo_pkg/__init__.py": "def answer():\n    return 42\n",
            "tests/__init__.py": "",
            "tests/test_demo.py": "import unittest\nimport demo_pkg\n\n\nclass T(unittest.TestCase):\n"
                                  "    def test_answer(self):\n        self.assertEqual(demo_pkg.answer(), 42)\n",
            **(extra or {})}

