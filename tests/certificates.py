"""Self-signed RSA certificates made at test time with ``cryptography``, for the IdPs the
tests play or start (tests/sso, tests/e2e): the one place that knows how to build one."""

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def self_signed_certificate(
    common_name: str,
    *,
    backdated: datetime.timedelta = datetime.timedelta(days=1),
    valid_for: datetime.timedelta = datetime.timedelta(days=365),
    key_format: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8,
) -> tuple[str, str]:
    """A fresh 2048-bit RSA key and a certificate it signs for itself, both PEM: (key, certificate).

    The certificate is valid from ``backdated`` before now, so clock skew between the test and
    a verifier does not matter, until ``valid_for`` after now."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - backdated)
        .not_valid_after(now + valid_for)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, key_format, serialization.NoEncryption()).decode()
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM).decode()
