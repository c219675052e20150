"""Re-vendor tests/infra/bicep-types/ from a copy of Azure/bicep-types-az `generated/` (or the team's reference
copy of it), trimmed to the (resource type, API version) pairs that infra/ declares.

    .venv/bin/python -m tests.infra.refresh_bicep_types <folder holding <provider>/<namespace>/<version>/types.json>

Run it after changing a resource type or API version in infra/, then commit the result with the source's
commit or date in tests/infra/bicep-types/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .bicep_model import load_all
from .bicep_types import TYPES_DIR, trim


def used_types() -> set[str]:
    return {resource.type.lower() for bicep in load_all().values() for resource in bicep.resources.values()}


def refresh(source: Path, target: Path = TYPES_DIR) -> list[str]:
    """Write the trimmed files; return the used types that no source file defines."""
    wanted = used_types()
    found: set[str] = set()
    written: set[Path] = set()
    for path in sorted(source.rglob("types.json")):
        nodes = json.loads(path.read_text())
        names = {node["name"].lower() for node in nodes if node["$type"] == "ResourceType"} & wanted
        if not names:
            continue
        out = target / path.relative_to(source)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(trim(nodes, names), indent=1) + "\n")
        written.add(out)
        found |= names
    for stale in set(target.rglob("types.json")) - written:
        stale.unlink()
    return sorted(wanted - found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="folder with <provider>/<namespace>/<api-version>/types.json")
    args = parser.parse_args(argv)
    missing = refresh(args.source)
    for name in missing:
        print(f"not in {args.source}: {name}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
