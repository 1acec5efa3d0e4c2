"""The repository explains itself: code and docs cite documents inside it, never a folder outside."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE = re.compile(r"\bSPEC (F\d|§)|SPEC\.md|STYLE\.md|\.\./shared|/work/shared")


def test_no_file_cites_a_document_outside_the_repository() -> None:
    offenders = []
    for folder in ("desktop_sms", "tests", "bench", "scripts", "docs"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix not in {".py", ".md", ".sh", ".toml"} or path == Path(__file__):
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if OUTSIDE.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_cited_product_sections_exist() -> None:
    product = (ROOT / "docs" / "product.md").read_text(encoding="utf-8")
    cited = set()
    for path in (ROOT / "desktop_sms").rglob("*.py"):
        cited.update(re.findall(r"product\.md (F\d+)", path.read_text(encoding="utf-8")))
    assert cited, "the code cites the product description"
    for section in sorted(cited):
        assert f"## {section} " in product, section
