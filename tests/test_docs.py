"""The docs: the site builds strictly (every page in the navigation, every link to a page, an anchor
or a results file resolving), and the product's pages describe the tool, not the process that
built it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import needs_extra

ROOT = Path(__file__).resolve().parents[1]


def product_pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


# how the work was organised, not what the tool does: issue numbers, "the issue", benchmark sittings and
# sessions, goals met or missed
PROCESS = re.compile(r"\bissues? #?\d+|\bthe issue\b|\bsittings?\b|\bthis session\b|\bgoals?\b[^|]*\b(met|missed)\b"
                     r"|\*\*(not )?met\*\*|\bnot met\b", re.I)


def test_no_page_speaks_of_issues_sittings_or_goals():
    found = [f"{page.relative_to(ROOT)}:{n}: {line.strip()}" for page in product_pages()
             for n, line in enumerate(page.read_text().splitlines(), 1) if PROCESS.search(line)]
    assert not found, "\n".join(found)
    assert PROCESS.search("the 2.5x target **met** on this CPU") and PROCESS.search("as issue 27 asks")


def test_the_readme_is_short_and_holds_its_picture():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", readme)
    assert pictures and all((ROOT / p).is_file() for p in pictures)


def test_every_relative_link_of_the_readme_resolves():
    readme = (ROOT / "README.md").read_text()
    links = [link for link in re.findall(r"\]\(([^)#\s]+)", readme) if "://" not in link]
    assert links and [link for link in links if not (ROOT / link).exists()] == []


def test_the_site_builds_strictly(tmp_path):
    needs_extra("docs", "mkdocs")
    needs_extra("docs", "material")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    assert (tmp_path / "site" / "guides" / "budget" / "index.html").is_file()


def test_a_broken_link_fails_the_site(tmp_path):
    """The strict build is what catches a broken link: shown on a copy with one page broken."""
    needs_extra("docs", "mkdocs")
    needs_extra("docs", "material")
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copytree(ROOT / "benchmarks" / "results", copy / "benchmarks" / "results")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    page = copy / "docs" / "guides" / "budget.md"
    page.write_text(page.read_text() + "\nSee [a page that is not there](nowhere.md).\n")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=copy, capture_output=True, text=True, timeout=600)
    assert done.returncode != 0 and "nowhere.md" in done.stderr


def test_the_options_reference_is_generated_from_the_config():
    """docs/reference/options.md is what cli/reference.py writes from the schema's metadata: a field
    added, renamed or re-described without regenerating the page fails here."""
    from cifarbench.cli.reference import options_markdown
    from cifarbench.config import schema_fields

    page = (ROOT / "docs" / "reference" / "options.md").read_text()
    assert page == options_markdown(), "regenerate: python -m cifarbench.cli.reference docs/reference/options.md"
    assert all(f"`--{path}`" in page for path, _, _ in schema_fields())
