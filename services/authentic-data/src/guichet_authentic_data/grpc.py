"""The declared servicers of authentic data, in one place (the architecture test and `app` find
them here): MyDataService for people, PlatformDataService and AdministrationDataService over
mutual TLS, CertificateVerificationService for anyone."""

from __future__ import annotations

from guichet_authentic_data.api.citizen import MyDataServicer, SpaceDirectory
from guichet_authentic_data.api.reads import AdministrationDataServicer, PlatformDataServicer
from guichet_authentic_data.api.verification import VerificationServicer

__all__ = [
    "AdministrationDataServicer",
    "MyDataServicer",
    "PlatformDataServicer",
    "SpaceDirectory",
    "VerificationServicer",
]
