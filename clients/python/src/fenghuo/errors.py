"""One exception type for every refusal, with the google.rpc details the server sends decoded.

The server refuses bad input with INVALID_ARGUMENT and a `google.rpc.BadRequest` naming the
field and the rule, and a refusal by state or date with FAILED_PRECONDITION and a
`google.rpc.PreconditionFailure` (README, "Bad input"). Both travel in the
`grpc-status-details-bin` trailer as a `google.rpc.Status`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

STATUS_DETAILS_KEY = "grpc-status-details-bin"

_CODES = {c.value[0]: c for c in grpc.StatusCode}


@dataclass(frozen=True)
class FieldViolation:
    """google.rpc.BadRequest.FieldViolation: `field` is a path like `report.tlp`."""

    field: str
    description: str


@dataclass(frozen=True)
class PreconditionViolation:
    """google.rpc.PreconditionFailure.Violation: `type` is the rule (e.g. `ADDRESSEE_ROLE`)."""

    type: str
    subject: str
    description: str


class FenghuoError(grpc.RpcError):
    """A failed call: its status code and message, and the violations the server named.

    A `grpc.RpcError` with the `code()` and `details()` of a failed `grpc.Call`, so code
    written for grpcio keeps working; `message`, `trailers`,
    `field_violations`, `precondition_failures` and `status_details` (every
    google.rpc.Status detail, as `Any`) are attributes.
    """

    message: str
    field_violations: list[FieldViolation]
    precondition_failures: list[PreconditionViolation]
    status_details: list[any_pb2.Any]
    trailers: tuple[tuple[str, str | bytes], ...]

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        field_violations: Sequence[FieldViolation] = (),
        precondition_failures: Sequence[PreconditionViolation] = (),
        status_details: Sequence[any_pb2.Any] = (),
        trailing_metadata: Sequence[tuple[str, str | bytes]] = (),
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self._code = code
        self.message = message
        self.field_violations = list(field_violations)
        self.precondition_failures = list(precondition_failures)
        self.status_details = list(status_details)
        self.trailers = tuple(trailing_metadata)

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self.message

    def __str__(self) -> str:
        text = f"{self._code.name}: {self.message}"
        named = [f"{v.field}: {v.description}" for v in self.field_violations]
        named += [f"{v.type} {v.subject}: {v.description}" for v in self.precondition_failures]
        extra = [n for n in named if n != self.message]
        return text + "".join(f"\n  {n}" for n in extra)

    @property
    def fields(self) -> list[str]:
        """The fields the server named, e.g. `["report.event.estimated_harm_and_impact"]`."""
        return [v.field for v in self.field_violations]

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> FenghuoError:
        """Decodes a grpcio error (a `grpc.Call`); an already decoded one is returned as is."""
        if isinstance(error, FenghuoError):
            return error
        code = grpc.StatusCode.UNKNOWN
        message = str(error)
        trailers: Sequence[tuple[str, str | bytes]] = ()
        if isinstance(error, grpc.Call):
            code = error.code() or grpc.StatusCode.UNKNOWN
            message = error.details() or ""
            trailers = error.trailing_metadata() or ()
        return cls.from_status(code, message, trailers)

    @classmethod
    def from_status(
        cls,
        code: grpc.StatusCode,
        message: str,
        trailing_metadata: Sequence[tuple[str, str | bytes]] = (),
    ) -> FenghuoError:
        raw = next((v for k, v in trailing_metadata if k == STATUS_DETAILS_KEY), None)
        if not isinstance(raw, bytes):
            return cls(code, message, trailing_metadata=trailing_metadata)
        status = status_pb2.Status()
        try:
            status.ParseFromString(raw)
        except Exception:  # a malformed trailer must not hide the error itself
            return cls(code, message, trailing_metadata=trailing_metadata)
        fields: list[FieldViolation] = []
        preconditions: list[PreconditionViolation] = []
        for detail in status.details:
            bad_request = error_details_pb2.BadRequest()
            precondition = error_details_pb2.PreconditionFailure()
            if detail.Unpack(bad_request):
                fields += [FieldViolation(v.field, v.description) for v in bad_request.field_violations]
            elif detail.Unpack(precondition):
                preconditions += [
                    PreconditionViolation(v.type, v.subject, v.description) for v in precondition.violations
                ]
        code = _CODES.get(status.code, code) if status.code else code
        message = status.message or message
        return cls(code, message, fields, preconditions, list(status.details), trailing_metadata)

    @classmethod
    def from_refusal(cls, code: int, field: str, reason: str) -> FenghuoError:
        """The error the unary call would have raised for a refused stream item (`Refusal`)."""
        violations = [FieldViolation(field, reason)] if field else []
        return cls(_CODES.get(code, grpc.StatusCode.UNKNOWN), f"{field}: {reason}" if field else reason, violations)
