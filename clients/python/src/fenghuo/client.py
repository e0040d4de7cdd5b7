"""The connection: mutual TLS from a PKI directory, the officer's token on the RPCs that take one.

A token is short-lived and bound to one organisation's certificate, and the server verifies
(and audits) a token on any call that carries one, so the client sends it only to the RPCs
whose row in docs/authorization.md says *officer token: yes* (`OFFICER_TOKEN_RPCS`, read from
that file when the package is built) and to WhoAmI, which names the officer. A search then
never fails because the token expired.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import grpc

from fenghuo import tokens
from fenghuo._officer_rpcs import OFFICER_TOKEN_RPCS
from fenghuo.errors import FenghuoError
from fenghuo.v1 import (
    appeal_pb2_grpc,
    audit_pb2_grpc,
    calendar_pb2_grpc,
    common_pb2,
    disposal_pb2_grpc,
    identification_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    threat_pb2_grpc,
)

if TYPE_CHECKING:
    from fenghuo.roles import AffectedParty, Institution, Regulator, Unit

WHO_AM_I = "/fenghuo.v1.RegistryService/WhoAmI"

#: Channel options: large notices and pages pass; idle streams are kept alive.
DEFAULT_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
)


def takes_officer_token(method: str) -> bool:
    """Whether the RPC at this gRPC path (`/fenghuo.v1.DisposalService/IssueDecision`) takes the token."""
    return method == WHO_AM_I or method in OFFICER_TOKEN_RPCS


class _Details(grpc.ClientCallDetails):
    def __init__(self, base: grpc.ClientCallDetails, metadata: Sequence[tuple[str, str | bytes]]) -> None:
        self.method = base.method
        self.timeout = base.timeout
        self.metadata = tuple(metadata)
        self.credentials = base.credentials
        self.wait_for_ready = base.wait_for_ready
        self.compression = base.compression


class _Unary:
    """A unary call or future whose failure is a FenghuoError."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def result(self, timeout: float | None = None) -> Any:
        try:
            return self._inner.result(timeout)
        except grpc.RpcError as e:
            raise FenghuoError.from_rpc_error(e) from None

    def exception(self, timeout: float | None = None) -> Any:
        error = self._inner.exception(timeout)
        return FenghuoError.from_rpc_error(error) if isinstance(error, grpc.RpcError) else error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _Stream:
    """A response stream whose failure is a FenghuoError; cancel(), code()... pass through."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __iter__(self) -> _Stream:
        return self

    def __next__(self) -> Any:
        try:
            return next(self._inner)
        except grpc.RpcError as e:
            raise FenghuoError.from_rpc_error(e) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _Interceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds the officer's token where it belongs; turns every failure into a FenghuoError."""

    def __init__(self, token: tokens.TokenSource | None, every_call: bool) -> None:
        self._token = token
        self._every_call = every_call

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        if self._token is None:
            return details
        method = details.method.decode() if isinstance(details.method, bytes) else details.method
        if not (self._every_call or takes_officer_token(method)):
            return details
        metadata = [*(details.metadata or ()), ("authorization", f"Bearer {self._token.token()}")]
        return _Details(details, metadata)

    def intercept_unary_unary(self, continuation: Any, details: grpc.ClientCallDetails, request: Any) -> Any:
        return _Unary(continuation(self._details(details), request))

    def intercept_unary_stream(self, continuation: Any, details: grpc.ClientCallDetails, request: Any) -> Any:
        return _Stream(continuation(self._details(details), request))

    def intercept_stream_unary(self, continuation: Any, details: grpc.ClientCallDetails, requests: Any) -> Any:
        return _Unary(continuation(self._details(details), requests))

    def intercept_stream_stream(self, continuation: Any, details: grpc.ClientCallDetails, requests: Any) -> Any:
        return _Stream(continuation(self._details(details), requests))


def _target(endpoint: str) -> str:
    for scheme in ("https://", "grpcs://"):
        if endpoint.startswith(scheme):
            return endpoint[len(scheme) :].rstrip("/")
    if "://" in endpoint:
        raise ValueError(f"{endpoint}: fenghuo serves only mutual TLS (https://host:port or host:port)")
    return endpoint


class Client:
    """A connection to the platform as one organisation, optionally acting as one officer.

    The gRPC stubs of every service are attributes (`registry`, `threats`, `identification`,
    `disposal`, `appeals`, `calendar`, `audit`); every failure through them is a
    `FenghuoError`. The role helpers are `unit`, `institution`, `regulator` and `party`.
    """

    def __init__(
        self,
        channel: grpc.Channel,
        *,
        organisation: str = "",
        token: tokens.TokenSource | None = None,
        token_on_every_call: bool = False,
    ) -> None:
        self.raw_channel = channel
        self.organisation = organisation
        #: Deadline of the helpers' unary calls, in seconds.
        self.timeout = 30.0
        self.token_source = token
        self._every_call = token_on_every_call
        self.channel = grpc.intercept_channel(channel, _Interceptor(token, token_on_every_call))
        self.registry = registry_pb2_grpc.RegistryServiceStub(self.channel)
        self.threats = threat_pb2_grpc.ThreatServiceStub(self.channel)
        self.identification = identification_pb2_grpc.IdentificationServiceStub(self.channel)
        self.disposal = disposal_pb2_grpc.DisposalServiceStub(self.channel)
        self.appeals = appeal_pb2_grpc.AppealServiceStub(self.channel)
        self.calendar = calendar_pb2_grpc.CalendarServiceStub(self.channel)
        self.audit = audit_pb2_grpc.AuditServiceStub(self.channel)

    @classmethod
    def from_pem(
        cls,
        endpoint: str,
        *,
        ca: bytes,
        certificate: bytes,
        private_key: bytes,
        token: str | Callable[[], str] | tokens.TokenSource | None = None,
        token_key: bytes | None = None,
        officer: str | None = None,
        key_id: str | None = None,
        options: Sequence[tuple[str, Any]] = DEFAULT_OPTIONS,
    ) -> Client:
        """Connects over mTLS with PEM material; see `from_pki_dir` for the token arguments."""
        credentials = grpc.ssl_channel_credentials(
            root_certificates=ca, private_key=private_key, certificate_chain=certificate
        )
        channel = grpc.secure_channel(_target(endpoint), credentials, options=list(options))
        client = cls(channel, organisation=tokens.organisation_of(certificate))
        if token is not None and token_key is not None:
            raise ValueError("give either token or token_key, not both")
        if token_key is not None:
            return client.with_token_key(token_key, officer=officer, key_id=key_id, certificate=certificate)
        if token is not None:
            return client.with_token(token)
        return client

    @classmethod
    def from_pki_dir(
        cls,
        endpoint: str,
        directory: str | pathlib.Path,
        *,
        token: str | Callable[[], str] | tokens.TokenSource | None = None,
        token_key: str | pathlib.Path | None = None,
        officer: str | None = None,
        key_id: str | None = None,
        options: Sequence[tuple[str, Any]] = DEFAULT_OPTIONS,
    ) -> Client:
        """Connects with the identity in a directory (`ca.crt`, `client.crt`, `client.key`).

        - `token`: an officer token (a string, or a function returning the current one);
        - `token_key` and `officer`: the organisation's token-signing key file (PEM, Ed25519
          or P-256; the dev PKI's is `officer-token.key` in the same directory). The client
          signs the officer's tokens itself, bound to this certificate, and signs a new one
          before each expires. `key_id` is the registered key's id; without it the client
          finds the registered key matching this one (ListOfficerKeys).
        """
        d = pathlib.Path(directory)
        missing = [f for f in ("ca.crt", "client.crt", "client.key") if not (d / f).is_file()]
        if missing:
            raise FileNotFoundError(f"{d}: missing {', '.join(missing)} (a fenghuo PKI directory)")
        return cls.from_pem(
            endpoint,
            ca=(d / "ca.crt").read_bytes(),
            certificate=(d / "client.crt").read_bytes(),
            private_key=(d / "client.key").read_bytes(),
            token=token,
            token_key=None if token_key is None else pathlib.Path(token_key).read_bytes(),
            officer=officer,
            key_id=key_id,
            options=options,
        )

    def with_token(
        self, token: str | Callable[[], str] | tokens.TokenSource, *, every_call: bool = False
    ) -> Client:
        """The same connection acting as an officer. `every_call` sends the token to every RPC
        (only to test the server's checks)."""
        if isinstance(token, str):
            source: tokens.TokenSource = tokens.StaticToken(token)
        elif callable(token):
            source = tokens.CallableToken(token)
        else:
            source = token
        return Client(self.raw_channel, organisation=self.organisation, token=source, token_on_every_call=every_call)

    def with_token_key(
        self, key_pem: bytes, *, officer: str | None, certificate: bytes, key_id: str | None = None
    ) -> Client:
        """Acts as `officer`, signing its tokens with the organisation's key (see `from_pki_dir`)."""
        if not officer:
            raise ValueError("token_key needs officer: the officer the tokens name")
        key = tokens.load_signing_key(key_pem)
        kid = key_id or self._registered_key_id(key)
        source = tokens.KeyFileTokens(
            key,
            key_id=kid,
            organisation=self.organisation,
            officer=officer,
            thumbprint=tokens.certificate_thumbprint(certificate),
        )
        return self.with_token(source)

    def _registered_key_id(self, key: tokens.SigningKey) -> str:
        page = ""
        while True:
            response = self.registry.ListOfficerKeys(
                registry_pb2.ListOfficerKeysRequest(
                    organisation_id=self.organisation, page=common_pb2.PageRequest(page_size=1000, page_token=page)
                ),
                timeout=30,
            )
            for registered in response.keys:
                if not registered.HasField("revoked_at") and tokens.same_public_key(key, registered.public_key_pem):
                    return registered.kid
            page = response.next_page_token
            if not page:
                raise ValueError(
                    f"no officer key registered for {self.organisation} matches this key "
                    "(RegisterOfficerKey, or pass key_id)"
                )

    # -- lifetime -------------------------------------------------------------------------
    def close(self) -> None:
        self.raw_channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- role helpers ---------------------------------------------------------------------
    @property
    def unit(self) -> Unit:
        from fenghuo.roles import Unit

        return Unit(self)

    @property
    def institution(self) -> Institution:
        from fenghuo.roles import Institution

        return Institution(self)

    @property
    def regulator(self) -> Regulator:
        from fenghuo.roles import Regulator

        return Regulator(self)

    @property
    def party(self) -> AffectedParty:
        from fenghuo.roles import AffectedParty

        return AffectedParty(self)

    def who_am_i(self) -> registry_pb2.WhoAmIResponse:
        """The organisation, roles and officer (when a token is set) the server sees."""
        return self.registry.WhoAmI(registry_pb2.WhoAmIRequest(), timeout=self.timeout)
