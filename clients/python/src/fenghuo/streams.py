"""Server streams that survive a disconnect: each reopens from the last cursor it handed out.

The feed, the notice stream and the appeal watch are all resumable from an event's cursor
(proto: SubscribeFeedRequest.cursor, SubscribeNoticesRequest.cursor,
WatchAppealRequest.cursor). A `Subscription` remembers the cursor of the last item it
yielded; when the stream breaks (the server restarts, a connection drops: UNAVAILABLE; the
server drops a slow reader: RESOURCE_EXHAUSTED with reason SLOW_READER) or the server ends it,
it reopens from there after a back-off. Any other error is raised as a
`FenghuoError` (a revoked certificate, a disabled organisation: the server means it).
"""

from __future__ import annotations

import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Generic, Protocol, TypeVar

import grpc
from google.rpc import error_details_pb2

from fenghuo.errors import FenghuoError


class _HasCursor(Protocol):
    @property
    def cursor(self) -> str: ...


T = TypeVar("T", bound=_HasCursor)

#: Codes after which a stream is reopened: the server or the network went away.
RESUMABLE = frozenset({grpc.StatusCode.UNAVAILABLE})

#: `ErrorInfo.reason` of the RESOURCE_EXHAUSTED that ends a stream whose reader fell behind:
#: resuming from the last item read loses nothing (proto: the SubscribeFeed comment).
SLOW_READER = "SLOW_READER"


def resumable(error: FenghuoError) -> bool:
    """Whether a stream that ended with `error` is reopened from its cursor: UNAVAILABLE, or a
    slow reader dropped by the server (RESOURCE_EXHAUSTED with reason SLOW_READER)."""
    if error.code() in RESUMABLE:
        return True
    if error.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
        return False
    for detail in error.status_details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info) and info.reason == SLOW_READER:  # Unpack: False for another type
            return True
    return False


class Subscription(Generic[T]):
    """An endless iterator over a resumable stream; `cursor` is where it would resume.

    Store `cursor` once an item is processed to resume in another process later. `close()`
    (or leaving a `with` block) cancels the stream; iteration then stops. Items already seen
    by this subscription are skipped when a resume delivers them again (at-least-once
    delivery), by the key `dedup_key` gives (none: no de-duplication).
    """

    def __init__(
        self,
        open_stream: Callable[[str], Iterator[T]],
        cursor: str = "",
        *,
        dedup_key: Callable[[T], str | None] | None = None,
        skip: Callable[[T], bool] | None = None,
        retry_for: float | None = 300.0,
        initial_backoff: float = 0.1,
        max_backoff: float = 5.0,
    ) -> None:
        self._open = open_stream
        self._cursor = cursor
        self._dedup_key = dedup_key
        self._skip = skip
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._retry_for = retry_for
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._lock = threading.Lock()
        self._call: Iterator[T] | None = None
        self._closed = False
        #: How many times the stream was reopened after a break or an end.
        self.reconnects = 0

    @property
    def cursor(self) -> str:
        return self._cursor

    def __iter__(self) -> Subscription[T]:
        return self

    def __enter__(self) -> Subscription[T]:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Cancels the stream; safe from another thread (a watchdog)."""
        with self._lock:
            self._closed = True
            call = self._call
        cancel = getattr(call, "cancel", None)
        if callable(cancel):
            cancel()

    def _reopen(self) -> Iterator[T]:
        with self._lock:
            if self._closed:
                raise StopIteration
            self._call = self._open(self._cursor)
            return self._call

    def __next__(self) -> T:
        broken_since: float | None = None
        backoff = self._initial_backoff
        while True:
            call = self._call if self._call is not None else self._reopen()
            try:
                item = next(call)
            except StopIteration:
                error: FenghuoError | None = None
            except grpc.RpcError as e:
                error = FenghuoError.from_rpc_error(e)
            else:
                self._cursor = item.cursor or self._cursor
                if self._skip is not None and self._skip(item):
                    continue
                if self._fresh(item):
                    return item
                continue
            with self._lock:
                self._call = None
                if self._closed:
                    raise StopIteration
            if error is not None and not resumable(error):
                raise error
            # Broken or ended by the server: reopen from the cursor, backing off while it fails.
            now = time.monotonic()
            broken_since = broken_since if broken_since is not None else now
            if error is not None and self._retry_for is not None and now - broken_since > self._retry_for:
                raise error
            # Jittered, so that clients cut off together do not come back together.
            time.sleep((backoff * random.uniform(0.5, 1.0)) if error is not None else self._initial_backoff)
            backoff = min(backoff * 2, self._max_backoff) if error is not None else backoff
            self.reconnects += 1

    def _fresh(self, item: T) -> bool:
        if self._dedup_key is None:
            return True
        key = self._dedup_key(item)
        if key is None:
            return True
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > 100_000:
            self._seen.popitem(last=False)
        return True
