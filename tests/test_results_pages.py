"""One results page per CPU class: docs/results/<page>.md shows the results files whose own
fingerprint names that page's class (benchmarks/readme_tables.CLASS_PAGES), every one of them, and
no file measured elsewhere, so a reader never takes one machine's figure for another's. A results
table stands only on its machine's page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from test_readme_figures import tables_script

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "docs" / "results"
LINK = re.compile(r"\]\(\.\./\.\./benchmarks/results/(?P<path>[^)#]+)\)")
script = tables_script()


def results_file_of(linked: str) -> str:
    """The results file a linked path belongs to: itself, its folder's bench.json (a report, a chart)
    or the JSON beside a chart of the same name."""
    if linked.endswith(".json"):
        return linked
    folder, _, _ = linked.rpartition("/")
    return f"{folder}/bench.json" if folder else linked.rsplit(".", 1)[0] + ".json"


def shown_on(text: str) -> dict[str, str]:
    """{results file: how the page shows it} for every table and link on a page."""
    shown = {results_file_of(m["path"]): f"a link to {m['path']}" for m in LINK.finditer(text)}
    for match in script.BLOCK.finditer(text):
        for name in script.TABLES[match["name"]].sources:
            shown[name] = f"table {match['name']}"
    return shown


def test_every_results_file_has_its_class_page():
    classes = set(script.CLASS_PAGES.values())
    homeless = {name: script.cpu_class_of(name) for name in script.results_files()
                if script.cpu_class_of(name) not in classes}
    assert not homeless, f"results from a CPU class without a page (add one to CLASS_PAGES): {homeless}"
    assert {p.stem for p in PAGES.glob("*.md")} == {*script.CLASS_PAGES, "index"}


def misplaced(page: str, text: str) -> tuple[dict[str, str], list[str]]:
    """What a class page shows that its CPU did not measure, and what its CPU measured that it omits."""
    cpu_class = script.CLASS_PAGES[page]
    shown = shown_on(text)
    foreign = {name: how for name, how in shown.items() if script.cpu_class_of(name) != cpu_class}
    # the page's machine table lists every file of its class: each must also be shown for what it measured
    described = shown_on(script.BLOCK.sub(lambda m: "" if m["name"].startswith("machines") else m[0], text))
    missing = [n for n in script.results_files() if script.cpu_class_of(n) == cpu_class and n not in described]
    return foreign, missing


@pytest.mark.parametrize("page", list(script.CLASS_PAGES))
def test_a_class_page_shows_its_files_and_no_other(page):
    foreign, missing = misplaced(page, (PAGES / f"{page}.md").read_text())
    assert not foreign, f"{page}.md ({script.CLASS_PAGES[page]}) shows files measured on another CPU: {foreign}"
    assert not missing, f"{page}.md does not show {missing}, measured on its CPU"


def test_results_tables_stand_only_on_their_machines_page():
    for page in script.pages():
        if page.parent == PAGES and page.stem in script.CLASS_PAGES:
            continue
        for match in script.BLOCK.finditer(page.read_text()):
            assert not script.TABLES[match["name"]].sources, \
                f"{page.name} holds results table {match['name']}: it belongs on its CPU's results page"


def test_a_table_or_link_on_the_wrong_page_is_found():
    """The check can fail: the Xeon's fast-path table on the Zen 2 page, or a link to its JSON, is
    foreign there; a Zen 2 file dropped from its page is missing."""
    zen2 = (PAGES / "epyc-zen2-avx2.md").read_text()
    foreign, _ = misplaced("epyc-zen2-avx2", zen2 + "\n<!-- table: cpu-fast-path-amx -->\n<!-- /table -->\n")
    assert foreign == {"cpu-fast-path-xeon-amx.json": "table cpu-fast-path-amx"}
    foreign, _ = misplaced("epyc-zen2-avx2", zen2 + "[JSON](../../benchmarks/results/cpu-fast-path-xeon-amx.json)")
    assert list(foreign) == ["cpu-fast-path-xeon-amx.json"]
    _, missing = misplaced("epyc-zen2-avx2", zen2.replace("<!-- table: clock-pace-avx2 -->", "").replace(
        "(../../benchmarks/results/clock-pace-fashion-mnist-avx2.json))", ""))
    assert missing == ["clock-pace-fashion-mnist-avx2.json"]
