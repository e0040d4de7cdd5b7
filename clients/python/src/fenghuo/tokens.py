"""Officer tokens (docs/authorization.md): JWTs signed with a key the organisation registered.

Claims: `iss` the organisation, `sub` the officer, `aud` "fenghuo", `iat`/`exp` at most 15
minutes apart, and `cnf: {"x5t#S256": ...}` binding the token to the calling certificate
(RFC 8705); the `kid` header names the registered key. EdDSA (Ed25519) or ES256 (P-256).
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections.abc import Callable
from typing import Protocol

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

AUDIENCE = "fenghuo"
#: The longest lifetime the server accepts (exp - iat).
MAX_LIFETIME = 15 * 60
#: A new token is signed when the current one has less than this left, so a call never
#: carries a token about to expire in flight (the server tolerates 60 s of clock skew).
REFRESH_BEFORE = 120
ORG_URI_PREFIX = "urn:fenghuo:org:"


class TokenSource(Protocol):
    """Anything that hands out the current officer token."""

    def token(self) -> str: ...


class StaticToken:
    """A token obtained elsewhere (`fenghuo token issue`, an identity provider); never refreshed."""

    def __init__(self, value: str) -> None:
        self._value = value.strip()

    def token(self) -> str:
        return self._value


class CallableToken:
    """Asks a function for the token on every officer call (e.g. an identity provider's cache)."""

    def __init__(self, get: Callable[[], str]) -> None:
        self._get = get

    def token(self) -> str:
        return self._get().strip()


def certificate_thumbprint(certificate_pem: bytes) -> str:
    """cnf.x5t#S256: base64url without padding of the SHA-256 of the certificate's DER."""
    der = x509.load_pem_x509_certificate(certificate_pem).public_bytes(serialization.Encoding.DER)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


def organisation_of(certificate_pem: bytes) -> str:
    """The organisation a client certificate names (SAN URI `urn:fenghuo:org:<id>`)."""
    certificate = x509.load_pem_x509_certificate(certificate_pem)
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        names = x509.SubjectAlternativeName([])
    for uri in names.get_values_for_type(x509.UniformResourceIdentifier):
        if uri.startswith(ORG_URI_PREFIX):
            return uri[len(ORG_URI_PREFIX) :]
    raise ValueError(f"the certificate names no organisation (no SAN URI {ORG_URI_PREFIX}<id>)")


SigningKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey


_ED25519_OID = bytes.fromhex("06032b6570")


def _der_items(der: bytes) -> list[tuple[int, bytes]]:
    """The (tag, contents) of consecutive DER elements."""
    items = []
    i = 0
    while i < len(der):
        tag, length = der[i], der[i + 1]
        i += 2
        if length & 0x80:
            size = length & 0x7F
            length = int.from_bytes(der[i : i + size], "big")
            i += size
        items.append((tag, der[i : i + length]))
        i += length
    return items


def _ed25519_from_pkcs8_v2(pem: bytes) -> ed25519.Ed25519PrivateKey | None:
    """An Ed25519 key in PKCS#8 v2 (RFC 5958, with the public key), as ring writes the
    `officer-token.key` files, which the cryptography package does not read."""
    try:
        lines = [ln for ln in pem.decode().splitlines() if ln and not ln.startswith("-----")]
        (tag, body), = _der_items(base64.b64decode("".join(lines)))
        version, algorithm, private = _der_items(body)[:3]
        if tag != 0x30 or version != (0x02, b"\x01") or _ED25519_OID not in algorithm[1] or private[0] != 0x04:
            return None
        (inner_tag, seed), = _der_items(private[1])
        if inner_tag != 0x04 or len(seed) != 32:
            return None
        return ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    except (ValueError, IndexError, UnicodeDecodeError):
        return None


def load_signing_key(pem: bytes) -> SigningKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except ValueError:
        v2 = _ed25519_from_pkcs8_v2(pem)
        if v2 is None:
            raise
        return v2
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    raise ValueError("an officer token key must be Ed25519 (EdDSA) or P-256 (ES256)")


def algorithm_of(key: SigningKey) -> str:
    return "EdDSA" if isinstance(key, ed25519.Ed25519PrivateKey) else "ES256"


def public_key_pem(key: SigningKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def same_public_key(key: SigningKey, registered_pem: str) -> bool:
    """Whether a registered SubjectPublicKeyInfo PEM is the public half of `key`."""
    try:
        registered = serialization.load_pem_public_key(registered_pem.encode())
    except ValueError:
        return False
    raw = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return registered.public_bytes(der, raw) == key.public_key().public_bytes(der, raw)


def sign(
    key: SigningKey,
    *,
    key_id: str,
    organisation: str,
    officer: str,
    thumbprint: str,
    issued_at: int,
    lifetime: int = MAX_LIFETIME,
) -> str:
    """One officer token, as an organisation's identity provider signs it."""
    if not 0 < lifetime <= MAX_LIFETIME:
        raise ValueError(f"lifetime {lifetime} s: the server accepts 1 to {MAX_LIFETIME} s")
    claims = {
        "iss": organisation,
        "sub": officer,
        "aud": AUDIENCE,
        "iat": issued_at,
        "exp": issued_at + lifetime,
        "cnf": {"x5t#S256": thumbprint},
    }
    return jwt.encode(claims, key, algorithm=algorithm_of(key), headers={"kid": key_id})


class KeyFileTokens:
    """Signs the officer's tokens from the organisation's key, a new one before each expires."""

    def __init__(
        self,
        key: SigningKey,
        *,
        key_id: str,
        organisation: str,
        officer: str,
        thumbprint: str,
        lifetime: int = MAX_LIFETIME,
        refresh_before: int = REFRESH_BEFORE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0 <= refresh_before < lifetime:
            raise ValueError("refresh_before must be shorter than the lifetime")
        self._key = key
        self._key_id = key_id
        self._organisation = organisation
        self._officer = officer
        self._thumbprint = thumbprint
        self._lifetime = lifetime
        self._refresh_before = refresh_before
        self._clock = clock
        self._lock = threading.Lock()
        self._current = ""
        self._expires = 0
        #: How many tokens were signed (a test of the refresh reads it).
        self.signed = 0

    @property
    def officer(self) -> str:
        return self._officer

    @property
    def key_id(self) -> str:
        return self._key_id

    def token(self) -> str:
        with self._lock:
            now = int(self._clock())
            if not self._current or now >= self._expires - self._refresh_before:
                self._current = sign(
                    self._key,
                    key_id=self._key_id,
                    organisation=self._organisation,
                    officer=self._officer,
                    thumbprint=self._thumbprint,
                    issued_at=now,
                    lifetime=self._lifetime,
                )
                self._expires = now + self._lifetime
                self.signed += 1
            return self._current
