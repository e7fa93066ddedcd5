"""TLS for the wire server: a self-signed certificate made on first start, kept in the data
directory (``server.crt``/``server.key``, as PostgreSQL's ``ssl_cert_file``/``ssl_key_file``),
and the server-side ``ssl.SSLContext`` an SSLRequest upgrades the socket with.

A self-signed certificate encrypts but proves nothing about the server: clients using
``sslmode=require`` accept it, ``verify-full`` needs a real one (pass ``--tls-cert``/``--tls-key``).
"""

from __future__ import annotations

import datetime as dt
import os
import ssl
from pathlib import Path


def ensure_certificate(directory: str | os.PathLike[str], hostname: str = "localhost"
                       ) -> tuple[Path, Path]:
    """``server.crt`` and ``server.key`` in ``directory``, generated when missing."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    d = Path(directory)
    crt, key = d / "server.crt", d / "server.key"
    if crt.exists() and key.exists():
        return crt, key
    d.mkdir(parents=True, exist_ok=True)
    pk = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(pk.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), False)
            .sign(pk, hashes.SHA256()))
    tmp_key = key.with_suffix(".key.tmp")
    fd = os.open(tmp_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pk.private_bytes(serialization.Encoding.PEM,
                                 serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()))
    os.replace(tmp_key, key)
    tmp_crt = crt.with_suffix(".crt.tmp")
    tmp_crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    os.replace(tmp_crt, crt)
    return crt, key


def server_context(cert: str | os.PathLike[str], key: str | os.PathLike[str]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2  # PostgreSQL's ssl_min_protocol_version
    ctx.load_cert_chain(str(cert), str(key))
    return ctx
