"""SCRAM-SHA-256 (RFC 5802 with RFC 7677's hash), the server side, and md5 password hashes, as
PostgreSQL stores and checks them.

PostgreSQL keeps a role's password as a verifier ``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:
<ServerKey>`` (base64 fields), never the password: the server proves it knows ServerKey and checks
the client's proof against StoredKey, so a stolen verifier does not let anyone log in without a
second step. The exchange is three messages (client-first, server-first, client-final) and the
server's final signature; the username in ``n=`` is ignored (the startup packet named the user)
and channel binding is not offered (no SCRAM-SHA-256-PLUS), as with PostgreSQL without TLS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import unicodedata
from dataclasses import dataclass

MECHANISM = "SCRAM-SHA-256"
DEFAULT_ITERATIONS = 4096  # PostgreSQL's scram_iterations default


class ScramError(Exception):
    """A malformed SCRAM message (08P01 in PostgreSQL) or a failed proof (28P01)."""

    def __init__(self, message: str, sqlstate: str = "08P01"):
        super().__init__(message)
        self.message = message
        self.sqlstate = sqlstate


def _hmac(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def _unb64(s: str) -> bytes:
    try:
        return base64.b64decode(s, validate=True)
    except (ValueError, TypeError):
        raise ScramError("malformed SCRAM message (invalid base64)") from None


def saslprep(password: str) -> str:
    """RFC 4013 normalisation in the part PostgreSQL relies on (NFKC, non-ASCII spaces mapped,
    soft hyphens and zero-widths dropped); like PostgreSQL, a password with prohibited
    characters is used as given."""
    mapped = "".join(" " if unicodedata.category(c) == "Zs" else c for c in password
                     if c not in "\u00ad\u200b\u2060\ufeff\u180b\u180c\u180d\u200c\u200d")
    out = unicodedata.normalize("NFKC", mapped)
    if any(unicodedata.category(c) in ("Cc", "Cs", "Co", "Cn") for c in out):
        return password
    return out


@dataclass(frozen=True)
class Verifier:
    iterations: int
    salt: bytes
    stored_key: bytes
    server_key: bytes

    def __str__(self) -> str:
        return (f"{MECHANISM}${self.iterations}:{_b64(self.salt)}$"
                f"{_b64(self.stored_key)}:{_b64(self.server_key)}")


def make_verifier(password: str, *, salt: bytes | None = None,
                  iterations: int = DEFAULT_ITERATIONS) -> str:
    """The text PostgreSQL stores for ``password`` (what ``CREATE ROLE ... PASSWORD`` keeps)."""
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", saslprep(password).encode(), salt, iterations)
    client_key = _hmac(salted, b"Client Key")
    return str(Verifier(iterations, salt, hashlib.sha256(client_key).digest(),
                        _hmac(salted, b"Server Key")))


def parse_verifier(text: str) -> Verifier | None:
    """The parts of a stored verifier, or None when ``text`` is not one (md5, plain...)."""
    try:
        mech, iters_salt, keys = text.split("$")
        iters, salt = iters_salt.split(":")
        stored, server = keys.split(":")
        if mech != MECHANISM:
            return None
        return Verifier(int(iters), base64.b64decode(salt), base64.b64decode(stored),
                        base64.b64decode(server))
    except (ValueError, TypeError):
        return None


def md5_hash(password: str, user: str) -> str:
    """PostgreSQL's stored md5 form: ``"md5" + md5(password || username)``."""
    return "md5" + hashlib.md5((password + user).encode()).hexdigest()


def md5_response(stored_md5: str, salt: bytes) -> str:
    """What a client sends for AuthenticationMD5Password: md5(md5hex || salt), "md5"-prefixed."""
    return "md5" + hashlib.md5(stored_md5[3:].encode() + salt).hexdigest()


def check_plain(password: str, user: str, secret: str) -> bool:
    """A cleartext password against whatever is stored (verifier, md5 hash or plain)."""
    v = parse_verifier(secret)
    if v is not None:
        salted = hashlib.pbkdf2_hmac("sha256", saslprep(password).encode(), v.salt, v.iterations)
        return hmac.compare_digest(
            hashlib.sha256(_hmac(salted, b"Client Key")).digest(), v.stored_key)
    if secret.startswith("md5") and len(secret) == 35:
        return hmac.compare_digest(md5_hash(password, user), secret)
    return hmac.compare_digest(password.encode(), secret.encode())


class ScramServer:
    """One exchange. ``verifier`` None (unknown user, or no SCRAM secret) runs a mock exchange
    with a salt derived from the user name, so the client cannot tell (PostgreSQL does the same),
    and fails at the proof."""

    def __init__(self, verifier: Verifier | None, user: str, *, nonce: bytes | None = None,
                 mock_key: bytes = b""):
        if verifier is None:
            fake_salt = _hmac(mock_key or b"cairn-mock", user.encode())[:16]
            verifier = Verifier(DEFAULT_ITERATIONS, fake_salt, os.urandom(32), os.urandom(32))
            self.valid = False
        else:
            self.valid = True
        self.v = verifier
        self.server_nonce = _b64(nonce if nonce is not None else os.urandom(18))
        self.client_first_bare = ""
        self.server_first = ""
        self.gs2_header = ""
        self.nonce = ""

    def first(self, mechanism: str, client_first: bytes) -> bytes:
        if mechanism != MECHANISM:
            raise ScramError("client selected an invalid SASL authentication mechanism")
        text = _ascii(client_first)
        parts = text.split(",", 2)
        if len(parts) != 3:
            raise ScramError("malformed SCRAM message (unexpected end of client-first-message)")
        cb, authzid, bare = parts
        if cb == "p" or cb.startswith("p="):
            raise ScramError("channel binding is not supported by this server (no "
                             "SCRAM-SHA-256-PLUS was offered)")
        if cb not in ("n", "y"):
            raise ScramError("malformed SCRAM message (unexpected channel-binding flag)")
        if authzid:
            raise ScramError("client uses authorization identity, but it is not supported")
        attrs = _attrs(bare)
        if "n" not in attrs or "r" not in attrs or not attrs["r"]:
            raise ScramError("malformed SCRAM message (missing username or nonce)")
        if any(not (0x21 <= ord(c) <= 0x7E) or c == "," for c in attrs["r"]):
            raise ScramError("malformed SCRAM message (invalid nonce)")
        self.gs2_header = f"{cb},{authzid},"
        self.client_first_bare = bare
        self.nonce = attrs["r"] + self.server_nonce
        self.server_first = f"r={self.nonce},s={_b64(self.v.salt)},i={self.v.iterations}"
        return self.server_first.encode()

    def final(self, client_final: bytes) -> bytes:
        """Check the proof; the server-final message, or ScramError 28P01 on a wrong password."""
        text = _ascii(client_final)
        without_proof, sep, proof_part = text.rpartition(",p=")
        if not sep:
            raise ScramError("malformed SCRAM message (missing proof)")
        attrs = _attrs(without_proof)
        if _unb64(attrs.get("c", "")) != self.gs2_header.encode():
            raise ScramError("SCRAM channel binding check failed")
        if attrs.get("r") != self.nonce:
            raise ScramError("invalid SCRAM response (nonce mismatch)")
        proof = _unb64(proof_part)
        if len(proof) != 32:
            raise ScramError("malformed SCRAM message (malformed proof in client-final-message)")
        auth_message = ",".join((self.client_first_bare, self.server_first,
                                 without_proof)).encode()
        client_signature = _hmac(self.v.stored_key, auth_message)
        client_key = bytes(a ^ b for a, b in zip(proof, client_signature, strict=True))
        ok = hmac.compare_digest(hashlib.sha256(client_key).digest(), self.v.stored_key)
        if not (ok and self.valid):
            raise ScramError("password authentication failed", "28P01")
        return f"v={_b64(_hmac(self.v.server_key, auth_message))}".encode()


def _ascii(b: bytes) -> str:
    try:
        return b.decode("ascii")
    except UnicodeDecodeError:
        raise ScramError("malformed SCRAM message (non-ASCII bytes)") from None


def _attrs(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in text.split(","):
        if len(part) < 2 or part[1] != "=":
            raise ScramError(f"malformed SCRAM message (attribute expected, got {part[:10]!r})")
        out.setdefault(part[0], part[2:])
    return out
