"""Checking a notice as delivered (Art. 8: "electronic means whose source can be verified").

Verify the signature over `SignedNotice.body` exactly as received, then decode it; never
re-encode. The same checks as `fenghuo notice verify`: the signer's certificate chains to the
platform CA, `key_id` is its SHA-256, it names the issuing organisation, it was valid when
the notice was issued, and its Ed25519 signature covers the body.
"""

from __future__ import annotations

import datetime
import hashlib

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from fenghuo.tokens import organisation_of
from fenghuo.v1 import disposal_pb2


class NoticeVerificationError(Exception):
    """A delivered notice whose source cannot be verified: do not act on it."""


def verify(notice: disposal_pb2.Notice | disposal_pb2.SignedNotice, ca_pem: bytes) -> disposal_pb2.NoticeBody:
    """The notice's body, after checking its signature against the platform CA."""
    signed = notice.signed if isinstance(notice, disposal_pb2.Notice) else notice
    if not signed.signer_chain_der:
        raise NoticeVerificationError("the notice carries no signer certificate")
    leaf = x509.load_der_x509_certificate(signed.signer_chain_der[0])
    ca = x509.load_pem_x509_certificate(ca_pem)
    try:
        leaf.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature) as e:
        raise NoticeVerificationError(f"the signer's certificate is not issued by the platform CA ({e})") from None
    if hashlib.sha256(signed.signer_chain_der[0]).hexdigest() != signed.key_id:
        raise NoticeVerificationError(f"key id {signed.key_id!r} is not the signer certificate's")
    body = disposal_pb2.NoticeBody.FromString(signed.body)
    leaf_pem = leaf.public_bytes(serialization.Encoding.PEM)
    signer = organisation_of(leaf_pem)
    if signer != body.issuer_organisation_id:
        raise NoticeVerificationError(f"signed by {signer}, but the notice names {body.issuer_organisation_id}")
    issued = datetime.datetime.fromtimestamp(body.issued_at.seconds, datetime.timezone.utc)
    if not leaf.not_valid_before_utc <= issued <= leaf.not_valid_after_utc:
        raise NoticeVerificationError(f"the signing certificate was not valid at {issued.isoformat()}")
    key = leaf.public_key()
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise NoticeVerificationError("the signing key is not Ed25519")
    try:
        key.verify(signed.signature, signed.body)
    except InvalidSignature:
        raise NoticeVerificationError("the signature does not verify over the body as received") from None
    return body
