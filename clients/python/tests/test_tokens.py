"""Officer tokens: signed from the key file, bound to the certificate, renewed before they
expire, and sent only to the RPCs that take one (docs/authorization.md)."""

from __future__ import annotations

import time
import uuid

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

import fenghuo
from conftest import Server
from fenghuo import tokens
from fenghuo.v1 import common_pb2, registry_pb2
from scenario import botnet_c2


def test_the_token_list_is_read_from_the_authorization_matrix() -> None:
    assert "/fenghuo.v1.DisposalService/IssueDecision" in fenghuo.OFFICER_TOKEN_RPCS
    assert "/fenghuo.v1.IdentificationService/Identify" in fenghuo.OFFICER_TOKEN_RPCS
    assert "/fenghuo.v1.ThreatService/SubmitThreat" not in fenghuo.OFFICER_TOKEN_RPCS
    assert fenghuo.takes_officer_token("/fenghuo.v1.RegistryService/WhoAmI")


def test_a_token_goes_only_to_the_rpcs_that_take_one(server: Server) -> None:
    broken = server.client("cncert").with_token("not-a-token")
    # No token goes to a search, so the broken one cannot fail it...
    broken.institution.search("58.60.1.1")
    # ... and an officer RPC carries it, and is refused.
    with pytest.raises(fenghuo.FenghuoError) as refused:
        broken.institution.reject("01a23f4a-0000-7000-8000-000000000000", "test")
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_tokens_from_a_key_file_name_the_officer_and_bind_the_certificate(server: Server) -> None:
    officer = server.officer("cncert")
    assert officer.who_am_i().officer == "duty-officer"
    source = officer.token_source
    assert isinstance(source, fenghuo.KeyFileTokens) and source.key_id == "dev-cncert"
    claims = jwt.decode(source.token(), options={"verify_signature": False})
    assert claims["iss"] == "cncert" and claims["aud"] == "fenghuo" and claims["exp"] - claims["iat"] == 900
    cert = (server.pki("cncert") / "client.crt").read_bytes()
    assert claims["cnf"]["x5t#S256"] == tokens.certificate_thumbprint(cert)


def test_a_token_is_signed_anew_before_its_fifteen_minutes_run_out(server: Server) -> None:
    pki = server.pki("cncert")
    key = tokens.load_signing_key((pki / "officer-token.key").read_bytes())
    # The first token was signed 850 s ago: 50 s left, inside the refresh margin.
    clock = [time.time() - 850]
    source = fenghuo.KeyFileTokens(
        key,
        key_id="dev-cncert",
        organisation="cncert",
        officer="duty-officer",
        thumbprint=tokens.certificate_thumbprint((pki / "client.crt").read_bytes()),
        clock=lambda: clock[0],
    )
    old = source.token()
    client = server.client("cncert").with_token(source)
    vendor = server.client("vendor-bj").unit
    first = vendor.submit(botnet_c2("58.60.7.7")).threat_id
    assert client.institution.confirm(first, common_pb2.EVENT_GRADE_MAJOR).officer_name == "duty-officer"
    assert source.signed == 1  # the old token, still valid, was used
    clock[0] = time.time()
    second = vendor.submit(botnet_c2("58.60.7.8")).threat_id
    assert client.institution.confirm(second, common_pb2.EVENT_GRADE_MAJOR).officer_name == "duty-officer"
    assert source.signed == 2 and source.token() != old


def test_a_p256_key_the_organisation_registered_signs_es256_tokens_found_by_its_key(server: Server) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    kid = f"es256-{uuid.uuid4().hex[:8]}"
    server.officer("registrar-bj").registry.RegisterOfficerKey(
        registry_pb2.RegisterOfficerKeyRequest(
            organisation_id="registrar-bj", kid=kid, algorithm="ES256", public_key_pem=tokens.public_key_pem(key).decode()
        )
    )
    key_file = server.data_dir.parent / f"{kid}.key"
    key_file.write_bytes(pem)
    # No key_id: the client finds the registered key that matches its own (ListOfficerKeys).
    officer = fenghuo.Client.from_pki_dir(
        server.endpoint, server.pki("registrar-bj"), token_key=key_file, officer="duty-officer"
    )
    assert isinstance(officer.token_source, fenghuo.KeyFileTokens) and officer.token_source.key_id == kid
    assert jwt.get_unverified_header(officer.token_source.token())["alg"] == "ES256"
    assert officer.who_am_i().officer == "duty-officer"
