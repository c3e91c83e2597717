"""Data Integrity cryptosuites, one module per suite."""

from __future__ import annotations

from vc.suites.base import Cryptosuite
from vc.suites.ecdsa_rdfc_2019 import ECDSA_RDFC_2019
from vc.suites.eddsa_rdfc_2022 import EDDSA_RDFC_2022

ALL_SUITES: dict[str, Cryptosuite] = {
    EDDSA_RDFC_2022.name: EDDSA_RDFC_2022,
    ECDSA_RDFC_2019.name: ECDSA_RDFC_2019,
}

__all__ = ["ALL_SUITES", "ECDSA_RDFC_2019", "EDDSA_RDFC_2022", "Cryptosuite"]
