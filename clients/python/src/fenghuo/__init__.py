"""Python SDK of the fenghuo platform.

```python
import fenghuo

client = fenghuo.Client.from_pki_dir("localhost:50051", "fenghuo-data/pki/clients/telecom-gd")
print(client.who_am_i().organisation.id)
for delivery in client.unit.notices():
    client.unit.acknowledge(delivery)
```

The generated messages and stubs are in `fenghuo.v1` (`from fenghuo.v1 import threat_pb2`).
"""

from fenghuo._officer_rpcs import OFFICER_TOKEN_RPCS
from fenghuo.client import Client, takes_officer_token
from fenghuo.errors import FenghuoError, FieldViolation, PreconditionViolation
from fenghuo.notices import NoticeVerificationError, verify
from fenghuo.roles import AffectedParty, Institution, Reader, Regulator, Unit, body_sha256, refusal, target
from fenghuo.streams import Subscription
from fenghuo.tokens import KeyFileTokens, StaticToken, TokenSource

__all__ = [
    "OFFICER_TOKEN_RPCS",
    "AffectedParty",
    "Client",
    "FenghuoError",
    "FieldViolation",
    "Institution",
    "KeyFileTokens",
    "NoticeVerificationError",
    "PreconditionViolation",
    "Reader",
    "Regulator",
    "StaticToken",
    "Subscription",
    "TokenSource",
    "Unit",
    "body_sha256",
    "refusal",
    "takes_officer_token",
    "target",
    "verify",
]
