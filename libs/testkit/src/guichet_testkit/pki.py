"""Citizens' eID-style certificates, issued by the national test CA of the development PKI
(`deploy/pki/dev-pki.sh`, `GUICHET_NATIONAL_CA_DIR`): presented in the TLS handshake they sign a
citizen in at level `high` (see `guichet_testkit.login`)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from guichet_kit.infra import find_root


def development_pki() -> Path:
    """The development PKI's directory, with the platform seal in it. `make test` makes it (`make
    infra`), so its absence is an error to report, not a reason to skip."""
    path = Path(os.environ.get("GUICHET_PKI_DIR") or find_root() / ".data" / "pki")
    if not (path / "seal" / "platform-seal.key").is_file():
        raise RuntimeError(
            f"no development PKI in {path}: run `make infra` (deploy/pki/dev-pki.sh)"
        )
    return path


def issue_citizen_certificate(
    national_ca_dir: Path, national_id: str, name: str, out_dir: Path, *, days: int = 30
) -> tuple[Path, Path]:
    """Issue an eID-style client certificate (subject `CN=<name>, serialNumber=<national id>, C=LU`,
    extended key usage clientAuth) signed by the CA in `national_ca_dir` (ca.crt, ca.key). Returns
    the paths of the PEM certificate and of its unencrypted private key (P-256)."""
    ca_cert = x509.load_pem_x509_certificate((national_ca_dir / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key(
        (national_ca_dir / "ca.key").read_bytes(), password=None
    )
    if not isinstance(ca_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise TypeError(f"unsupported CA key type {type(ca_key).__name__}")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "LU"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, national_id),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    cert_path = out_dir / f"citizen-{national_id}.crt"
    key_path = out_dir / f"citizen-{national_id}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path
