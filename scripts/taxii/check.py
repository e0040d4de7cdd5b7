"""fenghuo's TAXII 2.1 server, driven by the OASIS client (taxii2-client, PyPI).

Usage: check.py TAXII_URL CLIENT_DIR BUNDLE

TAXII_URL is the discovery URL (https://localhost:PORT/taxii2/), CLIENT_DIR a dev-PKI client
directory (ca.crt, client.crt, client.key) of an organisation that may submit, BUNDLE a STIX
2.1 bundle exported by fenghuo for another organisation (`fenghuo threat export --format stix`).
The bundle's objects are added to the submissions collection (a new sighting of each report),
the status is polled until final, then the shared feed is read through every page, its
manifest, an object, its versions and the filters. Exits non-zero on the first failure.
"""

import json
import os
import sys

from stix2 import parse
from taxii2client.v21 import Server, as_pages

FEED_TITLE = "Shared feed"
SUBMISSIONS_TITLE = "Submissions"
MEASURES_TITLE = "Ordered measures"


def check(cond, what):
    if not cond:
        sys.exit(f"TAXII check failed: {what}")
    print(f"ok: {what}")


def main():
    # requests lets these override a session's own `verify` (the platform CA here).
    for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        os.environ.pop(var, None)
    url, client_dir, bundle_path = sys.argv[1:4]
    cert = (os.path.join(client_dir, "client.crt"), os.path.join(client_dir, "client.key"))
    verify = os.path.join(client_dir, "ca.crt")
    with open(bundle_path, encoding="utf-8") as f:
        bundle = json.load(f)

    server = Server(url, cert=cert, verify=verify)
    check(len(server.api_roots) == 1, "discovery names one API root")
    root = server.default
    check("application/taxii+json;version=2.1" in root.versions, "the API root speaks TAXII 2.1")
    by_title = {c.title: c for c in root.collections}
    check(set(by_title) == {FEED_TITLE, MEASURES_TITLE, SUBMISSIONS_TITLE},
          "a submitter sees the feed, the ordered measures and submissions")
    feed, submissions = by_title[FEED_TITLE], by_title[SUBMISSIONS_TITLE]
    check(feed.can_read and not feed.can_write, "the feed is read-only")
    check(submissions.can_write and not submissions.can_read, "submissions are write-only")

    status = submissions.add_objects({"objects": bundle["objects"]}, poll_interval=1, timeout=30)
    check(status.status == "complete", f"status {status.id} is complete")
    check(status.failure_count == 0, f"no object refused ({status.failures})")
    check(status.success_count == status.total_count == len(bundle["objects"]), "every object accounted for")

    # Every page, small pages so that several are needed; no object twice.
    pages = list(as_pages(feed.get_objects, per_request=7))
    objects = [o for p in pages for o in p.get("objects", [])]
    ids = [o["id"] for o in objects]
    check(len(pages) > 1, f"the feed came in {len(pages)} pages")
    check(len(ids) == len(set(ids)), "no object repeated across pages")
    sightings = [o for o in objects if o["type"] == "sighting"]
    exported = [o for o in bundle["objects"] if o["type"] == "sighting"]
    mine = [s for s in sightings if s["where_sighted_refs"] != exported[0]["where_sighted_refs"]]
    check(len(mine) == len(exported), f"the {len(exported)} added reports are on the feed ({len(mine)})")
    for o in objects:
        parse(o, allow_custom=True)
    check(True, f"stix2 parses all {len(objects)} objects")

    manifest = [m for p in as_pages(feed.get_manifest, per_request=7) for m in p.get("objects", [])]
    check([m["id"] for m in manifest] == ids, "the manifest lists the same objects in the same order")
    one = sightings[0]
    got = feed.get_object(one["id"])
    check([o["id"] for o in got["objects"]] == [one["id"]], "an object by its id")
    versions = feed.object_versions(one["id"])
    check(versions["versions"] == [one["modified"]], "its one version")

    only = [o for p in as_pages(feed.get_objects, per_request=7, type="sighting") for o in p.get("objects", [])]
    check({o["type"] for o in only} == {"sighting"} and len(only) == len(sightings), "match[type]")
    by_id = feed.get_objects(id=[one["id"]])
    check(len(by_id["objects"]) == 1, "match[id]")
    check(len(feed.get_objects(id=[one["id"]], version="first")["objects"]) == 1, "match[version]=first")
    check("objects" not in feed.get_objects(spec_version="2.0"), "match[spec_version]=2.0 matches nothing")
    last_added = manifest[-1]["date_added"]
    check("objects" not in feed.get_objects(added_after=last_added), "added_after is exclusive")
    print(f"TAXII 2.1 with taxii2-client: {len(ids)} objects in {len(pages)} pages, all checks passed")


if __name__ == "__main__":
    main()
