"""`python -m pyuniproc.events schema > docs/event.schema.json`: print the event JSON Schema.

`python -m pyuniproc.events check FILE.jsonl` checks every line of an events file against it
(exit status 1 and the first bad line's field otherwise).
"""

from __future__ import annotations

import json
import sys

from pyuniproc.events.schema import EventSchemaError, json_schema, validate


def main(argv: list[str]) -> int:
    if argv[:1] == ["schema"]:
        print(json.dumps(json_schema(), indent=2))
        return 0
    if len(argv) == 2 and argv[0] == "check":
        with open(argv[1], encoding="utf-8") as file:
            for number, line in enumerate(file, 1):
                try:
                    validate(json.loads(line))
                except (EventSchemaError, json.JSONDecodeError) as exc:
                    print(f"{argv[1]}:{number}: {exc}", file=sys.stderr)
                    return 1
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
