"""Connect to fenghuo from Python with grpcio, as the README shows.

    python clients/python/whoami.py [ENDPOINT] [PKI_DIR]

Generates the stubs from ../../proto into a temporary directory (grpcio-tools),
connects over mutual TLS with the identity in PKI_DIR (ca.crt, client.crt,
client.key), checks grpc.health.v1 and prints what WhoAmI answers.
"""

import pathlib
import sys
import tempfile

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parents[2]


def stubs(out: pathlib.Path) -> None:
    protos = sorted(str(p.relative_to(ROOT / "proto")) for p in (ROOT / "proto/fenghuo/v1").glob("*.proto"))
    include = pathlib.Path(protoc.__file__).parent / "_proto"
    code = protoc.main(
        ["protoc", f"-I{ROOT / 'proto'}", f"-I{include}", f"--python_out={out}", f"--grpc_python_out={out}", *protos]
    )
    if code != 0:
        sys.exit(f"generating stubs failed ({code})")
    sys.path.insert(0, str(out))


def main() -> None:
    endpoint = sys.argv[1] if len(sys.argv) > 1 else "localhost:50051"
    pki = pathlib.Path(sys.argv[2] if len(sys.argv) > 2 else "fenghuo-data/pki/clients/telecom-gd")
    with tempfile.TemporaryDirectory() as tmp:
        stubs(pathlib.Path(tmp))
        from fenghuo.v1 import registry_pb2, registry_pb2_grpc

        credentials = grpc.ssl_channel_credentials(
            root_certificates=(pki / "ca.crt").read_bytes(),
            private_key=(pki / "client.key").read_bytes(),
            certificate_chain=(pki / "client.crt").read_bytes(),
        )
        with grpc.secure_channel(endpoint, credentials) as channel:
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
            print("health", health_pb2.HealthCheckResponse.ServingStatus.Name(health.status))
            me = registry_pb2_grpc.RegistryServiceStub(channel).WhoAmI(registry_pb2.WhoAmIRequest(), timeout=10)
            print("organisation", me.organisation.id, me.organisation.province)
            print("certificate", me.certificate_fingerprint)


if __name__ == "__main__":
    main()
