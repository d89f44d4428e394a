"""F26 through the gateway on the real stack: the criminal record extract must be signed. A
citizen signed in at level high (their certificate of the development national CA) signs the
complete draft's digest with that certificate's key; the submission goes through and the proof
names the signer. Without a signature, or with someone else's certificate, it is refused and the
draft stays a draft."""

from __future__ import annotations

import base64
import io
import uuid
from pathlib import Path
from typing import Any

import httpx
from citizens import Citizen, Registry
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pypdf import PdfReader

CODE = "criminal-record-extract"
EXTRACT = {"bulletin": "b3", "purpose": "employment", "extract_language": "en"}
DELIVERY = {"delivery_mode": "edocument"}


def signature_of(certificate: tuple[Path, Path], digest: str) -> dict[str, Any]:
    cert, key_path = certificate
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    value = key.sign(bytes.fromhex(digest), ec.ECDSA(hashes.SHA256()))
    return {
        "certificate": base64.b64encode(cert.read_bytes()).decode(),
        "value": base64.b64encode(value).decode(),
        "algorithm": "ecdsa-sha256",
    }


async def test_a_citizen_signs_the_criminal_record_extract_with_their_certificate(
    api: httpx.AsyncClient, infra: dict[str, str], tmp_path: Path
) -> None:
    people = Registry(api, infra, tmp_path)
    try:
        anne, bob = await people.register("Anne"), await people.register("Bob")
        for person in (anne, bob):
            await people.step_up_to_high(person)
        await _journey(api, anne, bob)
    finally:
        people.cleanup()


async def _journey(api: httpx.AsyncClient, anne: Citizen, bob: Citizen) -> None:
    headers = {**anne.bearer("high"), "Accept-Language": "en"}
    created = await api.post(f"/api/v1/procedures/{CODE}/drafts", headers=headers)
    assert created.status_code == 201, created.text
    draft_id = created.json()["id"]
    for step, answers in (("extract", EXTRACT), ("delivery", DELIVERY)):
        saved = await api.put(
            f"/api/v1/me/requests/{draft_id}/steps/{step}", headers=headers, json=answers
        )
        assert saved.status_code == 200, saved.text
    draft = saved.json()
    assert draft["next_step"] == "" and len(draft["answers_sha256"]) == 64
    digest = draft["answers_sha256"]
    url = f"/api/v1/me/requests/{draft_id}/submission"

    def submit(body: dict[str, Any] | None) -> Any:
        return api.post(url, headers={**headers, "Idempotency-Key": str(uuid.uuid4())}, json=body)

    missing = await submit(None)
    assert (missing.status_code, missing.json()["reason"]) == (409, "SIGNATURE_REQUIRED")
    assert bob.certificate is not None and anne.certificate is not None
    bobs = await submit({"signature": signature_of(bob.certificate, digest)})
    assert (bobs.status_code, bobs.json()["reason"]) == (403, "SIGNER_NOT_APPLICANT")
    still = await api.get(f"/api/v1/me/requests/{draft_id}", headers=headers)
    assert still.json()["state"] == "draft"

    signed = await submit({"signature": signature_of(anne.certificate, digest)})
    assert signed.status_code == 200, signed.text
    request = signed.json()
    assert request["state"] == "submitted" and request["answers_sha256"] == digest
    proof = await api.get(request["proof_url"], headers=headers)
    assert proof.status_code == 200, proof.text
    text = " ".join(
        " ".join((page.extract_text() or "").split())
        for page in PdfReader(io.BytesIO(proof.content)).pages
    )
    serial = format(
        x509.load_pem_x509_certificate(anne.certificate[0].read_bytes()).serial_number, "X"
    )
    assert "Signed by" in text and anne.national_id in text and serial in text
