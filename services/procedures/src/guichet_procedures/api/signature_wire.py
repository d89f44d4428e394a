"""F26: the signature's protobuf message to the rules' input, and a stored one back."""

from __future__ import annotations

from typing import Any

from guichet.procedures.v1 import procedures_pb2 as pb
from guichet_procedures.requests.signature import SignatureInput, stored_signature


def signature_input(
    request: pb.SubmitRequestRequest | pb.AnswerCorrectionRequest,
) -> SignatureInput | None:
    """The submission's (or the correction's) signature, None when the client sent none."""
    if not request.HasField("signature"):
        return None
    given = request.signature
    return SignatureInput(
        certificate=given.certificate,
        chain=tuple(given.chain),
        value=given.value,
        algorithm=given.algorithm,
    )


def fill_incoming(proto: pb.IncomingRequest, raw: dict[str, Any] | None) -> None:
    """The request's signature and signer, as its administration receives them."""
    found = stored_signature(raw)
    if found is None:
        return
    proto.signature.CopyFrom(
        pb.Signature(
            certificate=found.certificate,
            chain=list(found.chain),
            value=found.value,
            algorithm=found.algorithm,
        )
    )
    proto.signer = f"person:{found.signer.national_id}"
