"""F26 through the gateway on the real stack: the criminal record extract must be signed. A
citizen signed in at level high (their certificate of the development national CA) signs the
complete draft's digest with that certificate's key; the submission goes through and the proof
names the signer. Without a signature, or with someone else's certificate, it is refused and the
draft stays a draft."""

from __future__ import annotations

import base64
import io
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
from citizens import Citizen, Registry
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pypdf import PdfReader
from stack import Stack

from guichet.procedures.v1 import procedures_pb2 as pb
from guichet.procedures.v1 import procedures_pb2_grpc as pb_grpc
from guichet_kit.grpc_client import mutual_tls_channel

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


async def test_a_correction_of_the_signed_extract_is_signed_again(
    api: httpx.AsyncClient, infra: dict[str, str], tmp_path: Path, stack: Stack
) -> None:
    people = Registry(api, infra, tmp_path)
    try:
        anne = await people.register("Anne")
        await people.step_up_to_high(anne)
        await _correction(api, anne, stack)
    finally:
        people.cleanup()


async def _correction(api: httpx.AsyncClient, anne: Citizen, stack: Stack) -> None:
    assert anne.certificate is not None
    headers = {**anne.bearer("high"), "Accept-Language": "en"}
    created = await api.post(f"/api/v1/procedures/{CODE}/drafts", headers=headers)
    draft_id = created.json()["id"]
    for step, answers in (("extract", EXTRACT), ("delivery", DELIVERY)):
        saved = await api.put(
            f"/api/v1/me/requests/{draft_id}/steps/{step}", headers=headers, json=answers
        )
        assert saved.status_code == 200, saved.text
    digest = saved.json()["answers_sha256"]
    submitted = await api.post(
        f"/api/v1/me/requests/{draft_id}/submission",
        headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
        json={"signature": signature_of(anne.certificate, digest)},
    )
    assert submitted.status_code == 200, submitted.text
    reference = submitted.json()["reference"]
    async with mutual_tls_channel(
        stack.procedures_admin_address,
        ca=(stack.pki / "ca.crt").read_bytes(),
        certificate=(stack.pki / "administrations" / "justice.crt").read_bytes(),
        private_key=(stack.pki / "administrations" / "justice.key").read_bytes(),
        timeout=10,
    ) as channel:
        justice = pb_grpc.AdministrationProceduresServiceStub(channel)
        incoming = await justice.GetIncomingRequest(
            pb.GetIncomingRequestRequest(reference=reference)
        )
        await justice.AskCorrection(
            pb.AskCorrectionRequest(
                reference=reference,
                field_ids=["extract_language"],
                message="The extract is needed in French.",
                expected_version=incoming.request.version,
            )
        )
    asked = (await api.get(f"/api/v1/me/requests/{draft_id}", headers=headers)).json()
    assert asked["state"] == "action_needed"
    change = {"extract_language": "fr"}

    # Unsigned: refused, told the corrected answers' digest; nothing changes.
    unsigned = await api.post(
        f"/api/v1/me/requests/{draft_id}/correction", headers=headers, json=change
    )
    assert (unsigned.status_code, unsigned.json()["reason"]) == (409, "SIGNATURE_REQUIRED")
    found = re.search(r"\b[0-9a-f]{64}\b", unsigned.json()["detail"])
    assert found is not None, unsigned.json()
    new_digest = found.group(0)
    assert new_digest != digest
    # The signature of the answers before the correction does not sign the corrected ones.
    url = f"/api/v1/me/requests/{draft_id}/signed-correction"
    old = await api.post(
        url,
        headers=headers,
        json={"answers": change, "signature": signature_of(anne.certificate, digest)},
    )
    assert (old.status_code, old.json()["reason"]) == (422, "SIGNATURE_INVALID")
    still = (await api.get(f"/api/v1/me/requests/{draft_id}", headers=headers)).json()
    for key in ("state", "answers", "answers_sha256", "history", "updated_at"):
        assert still[key] == asked[key], key

    signed = await api.post(
        url,
        headers=headers,
        json={"answers": change, "signature": signature_of(anne.certificate, new_digest)},
    )
    assert signed.status_code == 200, signed.text
    request = signed.json()
    assert request["state"] == "submitted" and request["answers_sha256"] == new_digest
    assert request["answers"]["extract_language"] == "fr"
    proof = await api.get(request["proof_url"], headers=headers)
    text = " ".join(
        " ".join((page.extract_text() or "").split())
        for page in PdfReader(io.BytesIO(proof.content)).pages
    )
    assert "Signed by" in text and anne.national_id in text
