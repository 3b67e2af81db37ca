"""The CDA renderer (app/dmp_client/core/cda_render.py), as a ratio to the hardened parse of the same
bytes (``parse_xml``, the irreducible cost: every rendering starts with it).

Run with ``make bench`` (or ``python bench/bench_render.py``). Prints a Markdown table to paste into
bench/README.md; best of 5 for each document. The documents: the ANS examples the tests render
(sandbox/data/structured/, tests/data/structured/, resources/spec/cda-examples/) and three hostile
ones of the tests (a 100,000-cell table, 9 MB of text in one paragraph, 1,500 nested ``content``).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from timing import best  # noqa: E402

from app.dmp_client.core.cda_render import render  # noqa: E402
from app.dmp_client.core.xml import parse_xml  # noqa: E402
from tests.structured.test_render import cda  # noqa: E402


def documents() -> list[tuple[str, bytes]]:
    found = []
    for folder in ("sandbox/data/structured", "tests/data/structured", "resources/spec/cda-examples"):
        found += [(p.name, p.read_bytes()) for p in sorted((ROOT / folder).glob("*.xml"))]
    row = "<tr>" + "<td>cellule</td>" * 10 + "</tr>"
    found.append(("hostile: 100,000-cell table", cda("<table><tbody>" + row * 10_000 + "</tbody></table>")))
    found.append(("hostile: 9 MB paragraph", cda("<paragraph>" + "texte " * 1_500_000 + "</paragraph>")))
    found.append(("hostile: 1,500 nested content", cda("<content>" * 1_500 + "x" + "</content>" * 1_500)))
    return found


def main() -> None:
    print("| document | size | parse (baseline) | render | ratio | output (HTML chars) | cut |")
    print("|---|---|---|---|---|---|---|")
    for name, data in documents():
        parse = best(lambda data=data: parse_xml(data, max_nodes=2_000_000))  # type: ignore[misc]
        rendering = best(lambda data=data: render(data))  # type: ignore[misc]
        result = render(data)
        print(
            f"| {name} | {len(data) / 1024:,.0f} KiB | {parse * 1000:.1f} ms | {rendering * 1000:.1f} ms | "
            f"{rendering / parse:.1f} | {len(result.html):,} | {'yes' if result.truncated else 'no'} |"
        )


if __name__ == "__main__":
    main()
