"""Checks STIX 2.1 bundles exported by fenghuo with the OASIS tools (docs/stix.md).

Usage: validate.py BUNDLE.json...

For each file: `stix2-validator` must report zero errors (warnings are counted: the UUIDv5
ids fenghuo derives from its own ids, for one, are warned about and allowed), and
`stix2.parse` must read the bundle. The bundle is parsed with allow_custom=True because
Art. 2(5) threats travel as the `fenghuo-other-threat` SDO of fenghuo's extension
definition; every object that neither is nor refers to that SDO is also parsed strictly
(allow_custom=False). Exit 1 on any failure.
"""

from __future__ import annotations

import json
import sys

import stix2
from stix2validator import ValidationOptions, print_results, validate_file

OTHER = "fenghuo-other-threat"


def refers_to_other(obj: dict[str, object]) -> bool:
    text = json.dumps({k: v for k, v in obj.items() if k != "extensions"})
    return obj.get("type") == OTHER or f'"{OTHER}--' in text


def check(path: str) -> bool:
    results = validate_file(path, ValidationOptions(version="2.1"))
    warnings = sum(len(r.warnings or []) for r in results.object_results)
    if not results.is_valid:
        print_results(results)
        print(f"{path}: stix2-validator reports errors", file=sys.stderr)
        return False
    with open(path, encoding="utf-8") as f:
        text = f.read()
    bundle = stix2.parse(text, allow_custom=True)
    objects = json.loads(text)["objects"]
    if len(bundle.objects) != len(objects):
        print(f"{path}: stix2 parsed {len(bundle.objects)} of {len(objects)} objects", file=sys.stderr)
        return False
    strict = 0
    for obj in objects:
        if not refers_to_other(obj):
            stix2.parse(obj, allow_custom=False)
            strict += 1
    types = sorted({o["type"] for o in objects})
    print(
        f"{path}: valid (0 errors, {warnings} warnings); {len(objects)} objects"
        f" ({strict} parsed strictly): {', '.join(types)}"
    )
    return True


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    return 0 if all([check(p) for p in sys.argv[1:]]) else 1


if __name__ == "__main__":
    sys.exit(main())
