"""The wallet as real processes: acting for someone needs the right mandate (checked by identity,
audited), a wallet killed in the middle of an upload leaves nothing once swept, and a deleted
account's pieces and files go with it (identity hearing the wallet's confirmation is
test_identity_journeys.py's account deletion)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import httpx
import pytest
from citizens import Citizen, Registry
from launcher import Launcher
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from stack import Stack

from guichet.wallet.v1 import wallet_pb2 as pb
from guichet.wallet.v1 import wallet_pb2_grpc as pb_grpc
from guichet_kit.db import session_factory
from guichet_kit.errors import read_rpc_failure
from guichet_kit.grpc_client import mutual_tls_channel
from guichet_kit.national_id import make_national_id
from guichet_testkit import worker_name
from guichet_testkit.db import migrated_database
from guichet_testkit.eventually import wait_until
from guichet_wallet.files.pipeline import FilePipeline
from guichet_wallet.pieces import upkeep

MiB = 1024 * 1024


@pytest.fixture
async def registry(
    api: httpx.AsyncClient, infra: dict[str, str], tmp_path: Path
) -> AsyncIterator[Registry]:
    people = Registry(api, infra, tmp_path)
    yield people
    await asyncio.to_thread(people.cleanup)


def pdf(text: str, size: int = 0) -> bytes:
    head = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + f"% {text}\n".encode()
    tail = b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
    line = b"% " + b"x" * 77 + b"\n"
    return head + line * (max(size - len(head) - len(tail), 0) // len(line)) + tail


def as_person(citizen: Citizen, context: str = "") -> tuple[tuple[str, str], ...]:
    metadata = [("authorization", citizen.bearer()["Authorization"])]
    if context:
        metadata.append(("x-acting-context", context))
    return tuple(metadata)


def upload_messages(
    header: pb.UploadHeader, data: bytes, chunk: int = 64 * 1024
) -> AsyncIterator[pb.UploadFileRequest]:
    async def stream() -> AsyncIterator[pb.UploadFileRequest]:
        yield pb.UploadFileRequest(header=header)
        for start in range(0, len(data), chunk):
            yield pb.UploadFileRequest(chunk=data[start : start + chunk])

    return stream()


def a_passport(size: int = 0) -> pb.UploadHeader:
    return pb.UploadHeader(
        new_piece=pb.NewPiece(type_code="passport", title="Passport"),
        file_name="passport.pdf",
        declared_content_type="application/pdf",
        declared_size=size,
    )


async def refused(call: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call  # type: ignore[misc]
    failure = read_rpc_failure(error.value)
    return failure.code, failure.reason


@pytest.fixture
async def wallet(stack: Stack, launcher: Launcher) -> AsyncIterator[pb_grpc.WalletServiceAsyncStub]:
    async with grpc.aio.insecure_channel(launcher.wallet_address) as channel:
        yield pb_grpc.WalletServiceStub(channel)


async def test_a_relation_reads_with_wallet_read_but_cannot_write_without_wallet_write(
    api: httpx.AsyncClient, registry: Registry, wallet: pb_grpc.WalletServiceAsyncStub
) -> None:
    anne, bert, carl = [await registry.register(name) for name in ("Anne", "Bert", "Carl")]
    added = await wallet.UploadFile(
        upload_messages(a_passport(), pdf("anne")), metadata=as_person(anne)
    )
    await registry.step_up_to_high(anne)  # granting a mandate needs an eID sign-in
    granted = await api.post(
        "/api/v1/me/relations",
        headers=anne.bearer("high"),
        json={
            "actor_national_id": bert.national_id,
            "kind": "spouse",
            "rights": ["wallet:read"],
            "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        },
    )
    assert granted.status_code == 201, granted.text
    context = f"relation:{granted.json()['id']}"

    listed = await wallet.ListPieces(pb.ListPiecesRequest(), metadata=as_person(bert, context))
    assert [p.piece_id for p in listed.pieces] == [added.piece.piece_id]
    for call in (
        wallet.UploadFile(
            upload_messages(a_passport(), pdf("bert")), metadata=as_person(bert, context)
        ),
        wallet.DeletePiece(
            pb.DeletePieceRequest(piece_id=added.piece.piece_id), metadata=as_person(bert, context)
        ),
    ):
        assert await refused(call) == (grpc.StatusCode.PERMISSION_DENIED, "MANDATE_REFUSED")
    # Someone the mandate does not name cannot use its context at all.
    stranger = wallet.ListPieces(pb.ListPiecesRequest(), metadata=as_person(carl, context))
    assert await refused(stranger) == (grpc.StatusCode.PERMISSION_DENIED, "MANDATE_REFUSED")

    mine = await wallet.ListPieces(pb.ListPiecesRequest(), metadata=as_person(anne))
    assert [p.piece_id for p in mine.pieces] == [added.piece.piece_id]
    audit = (await api.get("/api/v1/me/acts-on-my-behalf", headers=anne.bearer())).json()
    assert any(
        a["actor_national_id"] == bert.national_id and a["acting_context"] == context for a in audit
    ), audit


def _prefix() -> str:
    worker = re.sub(r"[^a-z0-9]", "", worker_name().lower())[:12]
    return f"wkill-{worker}-{uuid.uuid4().hex[:8]}"


async def _stored(pipeline: FilePipeline) -> list[str]:
    found = []
    for bucket in pipeline.storage.buckets:
        found += [f"{bucket}/{item.key}" async for item in pipeline.storage.objects(bucket)]
        found += [
            f"{bucket}/{upload.key} (upload)"
            for upload in await pipeline.storage.pending_uploads(bucket)
        ]
    return found


async def test_a_wallet_killed_mid_upload_leaves_no_object_and_no_row_once_swept(
    api: httpx.AsyncClient,
    registry: Registry,
    launcher: Launcher,
    infra: dict[str, str],
    repo_root: Path,
    stack: Stack,
) -> None:
    anne = await registry.register("Anne")
    database_url = await migrated_database(
        infra, repo_root / "services" / "wallet", f"wallet_kill_{worker_name()}"
    )
    prefix = _prefix()
    pipeline = _pipeline(infra, prefix)
    stack_wallet = launcher.wallet_address
    started = await launcher.wallet(database_url, prefix, role="grpc", name="wallet-killed")
    engine = create_async_engine(database_url)
    try:
        async with pipeline:
            killed = asyncio.Event()
            size = 16 * MiB
            data = pdf("big", size)

            async def half_then_wait() -> AsyncIterator[pb.UploadFileRequest]:
                yield pb.UploadFileRequest(header=a_passport(size))
                for start in range(0, 10 * MiB, MiB):  # more than one 8 MiB part
                    yield pb.UploadFileRequest(chunk=data[start : start + MiB])
                await killed.wait()

            async with grpc.aio.insecure_channel(started.address) as channel:
                call = pb_grpc.WalletServiceStub(channel).UploadFile(
                    half_then_wait(), metadata=as_person(anne)
                )
                uploading = asyncio.ensure_future(call)

                async def part_in_quarantine() -> bool:
                    return bool(await pipeline.storage.pending_uploads(pipeline.storage.quarantine))

                await wait_until(part_in_quarantine, seconds=60, what="a part of the upload stored")
                started.process.kill()  # SIGKILL: no cleanup of any kind runs
                killed.set()
                with pytest.raises(grpc.aio.AioRpcError):
                    await uploading
            assert [k for k in await _stored(pipeline) if k.endswith("(upload)")], (
                "the killed process left its unfinished upload behind"
            )
            async with engine.connect() as connection:
                for table in ("pieces", "piece_files", "file_versions"):
                    rows = await connection.scalar(text(f"SELECT count(*) FROM {table}"))
                    assert rows == 0, table

            # The sweep (the worker's periodic job, run here once with no grace) aborts what the
            # killed process left; restarted, the wallet serves again.
            report = await upkeep.sweep(session_factory(engine), pipeline, grace=timedelta(0))
            assert report.aborted_uploads == 1
            assert await _stored(pipeline) == []
            restarted = await launcher.wallet(
                database_url, prefix, role="grpc", name="wallet-restarted"
            )
            try:
                async with grpc.aio.insecure_channel(restarted.address) as channel:
                    again = await pb_grpc.WalletServiceStub(channel).UploadFile(
                        upload_messages(a_passport(), pdf("again")), metadata=as_person(anne)
                    )
                assert again.version.number == 1
            finally:
                restarted.process.stop()
            for bucket in pipeline.storage.buckets:
                await pipeline.storage.remove_all(bucket, bypass_retention=True)
                await pipeline.storage.client.remove_bucket(bucket)
    finally:
        started.process.stop()
        launcher.wallet_address = stack_wallet
        await engine.dispose()


async def test_a_deleted_accounts_pieces_and_files_go(
    api: httpx.AsyncClient,
    registry: Registry,
    stack: Stack,
    wallet: pb_grpc.WalletServiceAsyncStub,
    wallet_database: str,
    infra: dict[str, str],
    wallet_bucket_prefix: str,
) -> None:
    anne = await registry.register("Anne")
    await registry.step_up_to_substantial(anne)
    added = await wallet.UploadFile(
        upload_messages(a_passport(), pdf("mine")), metadata=as_person(anne)
    )
    owner = f"person:{anne.national_id}"
    engine = create_async_engine(wallet_database)
    try:
        async with engine.connect() as connection:
            key = await connection.scalar(
                text(
                    "SELECT v.object_key FROM file_versions v "
                    "JOIN piece_files f ON f.id = v.file_id WHERE f.piece_id = :piece"
                ),
                {"piece": added.piece.piece_id},
            )
        deleted = await api.post(
            "/api/v1/me/deletion",
            headers=anne.bearer("substantial"),
            json={"confirm_email": anne.email},
        )
        assert deleted.status_code == 202, deleted.text

        async with _pipeline(infra, wallet_bucket_prefix) as pipeline:

            async def purged() -> bool:
                async with engine.connect() as connection:
                    rows = await connection.scalar(
                        text("SELECT count(*) FROM pieces WHERE owner = :owner"), {"owner": owner}
                    )
                keys = [
                    item.key async for item in pipeline.storage.objects(pipeline.storage.wallet)
                ]
                return rows == 0 and key not in keys

            await wait_until(purged, seconds=60, what="the wallet's purge")

    finally:
        await engine.dispose()


def _service_channel(
    address: str, pki: Path, name: str, folder: str = "services"
) -> grpc.aio.Channel:
    return mutual_tls_channel(
        address,
        ca=(pki / "ca.crt").read_bytes(),
        certificate=(pki / folder / f"{name}.crt").read_bytes(),
        private_key=(pki / folder / f"{name}.key").read_bytes(),
        timeout=30,
    )


async def test_platform_services_reach_the_file_service_over_mutual_tls_and_no_one_else(
    launcher: Launcher, infra: dict[str, str], repo_root: Path, stack: Stack
) -> None:
    database_url = await migrated_database(
        infra, repo_root / "services" / "wallet", f"wallet_mtls_{worker_name()}"
    )
    prefix = _prefix()
    stack_wallet = launcher.wallet_address
    started = await launcher.wallet(database_url, prefix, role="grpc", name="wallet-mtls")
    pki = Path(infra["GUICHET_PKI_DIR"])
    services_address = started.admin_address
    national_id = make_national_id(datetime(1980, 1, 1).date(), 7).value

    def ingest() -> AsyncIterator[pb.IngestFileRequest]:
        async def stream() -> AsyncIterator[pb.IngestFileRequest]:
            yield pb.IngestFileRequest(
                header=pb.IngestHeader(
                    owner=f"person:{national_id}",
                    purpose="Request RQ-1",
                    file_name="attachment.pdf",
                    declared_content_type="application/pdf",
                )
            )
            yield pb.IngestFileRequest(chunk=pdf("attachment"))

        return stream()

    try:
        async with _service_channel(services_address, pki, "procedures") as channel:
            files = pb_grpc.FileServiceStub(channel)
            copy = (await files.IngestFile(ingest())).copy
            replies = [r async for r in files.ReadCopy(pb.ReadCopyRequest(copy_id=copy.copy_id))]
            assert b"".join(r.chunk for r in replies[1:]) == pdf("attachment")
        # Another platform service does not read procedures' copy; the gateway is no platform
        # service of the file path; without a certificate the port does not even answer.
        async with _service_channel(services_address, pki, "messaging") as channel:
            read = pb_grpc.FileServiceStub(channel).ReadCopy(
                pb.ReadCopyRequest(copy_id=copy.copy_id)
            )
            assert await refused(_drain(read)) == (grpc.StatusCode.NOT_FOUND, "COPY_NOT_FOUND")
        async with _service_channel(services_address, pki, "gateway") as channel:
            call = pb_grpc.FileServiceStub(channel).IngestFile(ingest())
            assert await refused(call) == (
                grpc.StatusCode.UNAUTHENTICATED,
                "SERVICE_CERTIFICATE_REQUIRED",
            )
        async with grpc.aio.insecure_channel(started.address) as channel:
            call = pb_grpc.FileServiceStub(channel).IngestFile(ingest())
            assert await refused(call) == (
                grpc.StatusCode.UNAUTHENTICATED,
                "SERVICE_CERTIFICATE_REQUIRED",
            )
        async with _service_channel(services_address, pki, "acd", "rogue") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as no_handshake:
                await pb_grpc.FileServiceStub(channel).IngestFile(ingest())
            assert no_handshake.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        started.process.stop()
        launcher.wallet_address = stack_wallet
        async with _pipeline(infra, prefix) as pipeline:
            for bucket in pipeline.storage.buckets:
                await pipeline.storage.remove_all(bucket, bypass_retention=True)
                await pipeline.storage.client.remove_bucket(bucket)


async def _drain(replies: AsyncIterator[object]) -> None:
    async for _ in replies:
        pass


def _pipeline(infra: dict[str, str], prefix: str) -> FilePipeline:
    return FilePipeline(
        endpoint=infra["GUICHET_MINIO_ENDPOINT"],
        access_key=infra["GUICHET_MINIO_ACCESS_KEY"],
        secret_key=infra["GUICHET_MINIO_SECRET_KEY"],
        secure=False,
        bucket_prefix=prefix,
        clamav_address=infra["GUICHET_CLAMAV_ADDRESS"],
    )
