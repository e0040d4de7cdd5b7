"""Serves OASIS medallion or EclecticIQ OpenTAXII for `fenghuo bench taxii` to measure beside
fenghuo (issue #14): one API root, one readable and writable collection, one account with HTTP
basic auth, its data in DATA_DIR, on a free loopback port.

    compare_server.py {medallion,opentaxii} DATA_DIR

Once it listens it prints one JSON line on stdout (version, port, objects path, user, password,
backend), then serves until stdin closes (the bench holds it open) or it is killed. Exits 3 with
the reason on stderr when the server's package is not importable, so the bench skips it.
Install them with `.venv/bin/pip install -r scripts/taxii/compare-requirements.txt`.
"""

import functools
import importlib.metadata
import json
import os
import secrets
import sys
import threading
import types
import uuid

# Each server's own dev runner (Flask's app.run, opentaxii-run-dev) is werkzeug, threaded.
BIND = "127.0.0.1"
USER = "bench"
PAGE = 1000  # fenghuo's page: the bench asks every server for pages of this size
MAX_CONTENT = 512 * 1024 * 1024


def version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        print(f"{package} is not installed for {sys.executable}", file=sys.stderr)
        sys.exit(3)


def medallion(data_dir, password):
    """The memory backend with a data file, medallion's documented default: data lives in the
    process, the file is only read at start."""
    from medallion import application_instance, register_blueprints, set_config

    collection = str(uuid.uuid4())
    data = {
        "/discovery": {
            "title": "fenghuo bench",
            "default": "/bench/",
            "api_roots": ["/bench/"],
        },
        "bench": {
            "information": {
                "title": "bench",
                "versions": ["application/taxii+json;version=2.1"],
                "max_content_length": MAX_CONTENT,
            },
            "status": [],
            "collections": [
                {
                    "id": collection,
                    "title": "bench",
                    "can_read": True,
                    "can_write": True,
                    "media_types": ["application/stix+json;version=2.1"],
                    "objects": [],
                    "manifest": [],
                }
            ],
        },
    }
    data_file = os.path.join(data_dir, "medallion-data.json")
    with open(data_file, "w", encoding="utf-8") as f:
        json.dump(data, f)
    config = {
        "users": {USER: password},
        "taxii": {"max_page_size": PAGE},
        # session_timeout: a `next` token dies this many seconds after the first page (default
        # 30), shorter than a slow read-back.
        "backend": {
            "module": "medallion.backends.memory_backend",
            "module_class": "MemoryBackend",
            "filename": data_file,
            "session_timeout": 86400,
        },
    }
    for prop in ("users", "taxii", "backend"):
        set_config(application_instance, prop, config)
    register_blueprints(application_instance)
    return application_instance, f"/bench/collections/{collection}/objects/", "memory backend"


def opentaxii(data_dir, password):
    """TAXII 2.1 only, SQLite for data and accounts (its SQLAlchemy persistence)."""
    config_file = os.path.join(data_dir, "opentaxii.yml")
    config = {
        "domain": "localhost",
        "support_basic_auth": True,
        "return_server_error_details": True,
        "auth_api": {
            "class": "opentaxii.auth.sqldb.SQLDatabaseAPI",
            "parameters": {
                "db_connection": f"sqlite:///{data_dir}/auth.db",
                "create_tables": True,
                "secret": secrets.token_hex(16),
                "token_ttl_secs": 3600,
            },
        },
        "taxii1": None,
        "taxii2": {
            "persistence_api": {
                "class": "opentaxii.persistence.sqldb.Taxii2SQLDatabaseAPI",
                "parameters": {
                    "db_connection": f"sqlite:///{data_dir}/data.db",
                    "create_tables": True,
                },
            },
            "max_content_length": MAX_CONTENT,
            "allow_custom_properties": True,
        },
        "logging": {"opentaxii": "warning", "root": "warning"},
    }
    with open(config_file, "w", encoding="utf-8") as f:
        json.dump(config, f)  # JSON is YAML
    os.environ["OPENTAXII_CONFIG"] = config_file

    import opentaxii.taxii2.http
    from opentaxii.config import ServerConfig
    from opentaxii.middleware import create_app
    from opentaxii.server import TAXIIServer
    from opentaxii.utils import configure_logging

    # 0.9.3's status answer holds its job's UUID and stdlib json.dumps refuses it: every POST is
    # stored, then answered 500 (OpenTAXII issue #243, fixed after 0.9.3 by PR #289). This is
    # the fix the issue gives, for the answer only.
    opentaxii.taxii2.http.json = types.SimpleNamespace(
        dumps=functools.partial(json.dumps, default=str)
    )
    server_config = ServerConfig()
    configure_logging(server_config["logging"], plain=True)
    app = create_app(TAXIIServer(server_config))
    with app.app_context():
        api = app.taxii_server.servers.taxii2.persistence.api
        root = api.add_api_root(title="bench", default=True)
        collection = api.add_collection(api_root_id=str(root.id), title="bench")
        app.taxii_server.auth.api.create_account(USER, password, is_admin=True)
    path = f"/taxii2/{root.id}/collections/{collection.id}/objects/"
    return app, path, "SQLite (SQLAlchemy)"


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("medallion", "opentaxii"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    name, data_dir = sys.argv[1], os.path.abspath(sys.argv[2])
    release = version(name)
    os.makedirs(data_dir, exist_ok=True)
    password = secrets.token_hex(12)
    app, path, backend = (medallion if name == "medallion" else opentaxii)(data_dir, password)

    from werkzeug.serving import make_server

    server = make_server(BIND, 0, app, threaded=True)
    print(
        json.dumps(
            {
                "server": name,
                "version": release,
                "port": server.server_port,
                "objects_path": path,
                "user": USER,
                "password": password,
                "backend": backend,
            }
        ),
        flush=True,
    )
    # The bench closes stdin when it is done (or dies): stop then.
    threading.Thread(target=lambda: (sys.stdin.read(), server.shutdown()), daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
