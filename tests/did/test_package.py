"""The ``did`` package: lazy re-exports, import-light error module, bilingual errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

import did
from did.errors import FurusatoError
from did.keys import PublicKey
from did.multibase import multibase_decode


def test_every_exported_name_resolves() -> None:
    for name in did.__all__:
        assert getattr(did, name) is not None
    assert did.PublicKey is PublicKey
    assert set(did.__all__) <= set(dir(did))
    with pytest.raises(AttributeError):
        _ = did.no_such_name


def test_importing_errors_does_not_load_cryptography() -> None:
    code = "import sys, did.errors; sys.exit('cryptography' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_errors_carry_both_languages() -> None:
    with pytest.raises(FurusatoError) as info:
        multibase_decode("m")
    assert info.value.message_en
    assert info.value.message_ja
    assert info.value.message_ja != info.value.message_en
