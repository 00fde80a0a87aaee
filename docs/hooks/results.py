"""MkDocs hook: the pages link to the benchmarks' own files (benchmarks/results/*.json, their
charts) where they lie in the repository, so the same links work on the repository's web view and
in the site. Here those files join the site under benchmarks/results/, and a link from a page
resolves to them; a link to a file that does not exist still fails the strict build."""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File, Files, InclusionLevel

ROOT = Path(__file__).resolve().parents[2]
SHARED = ("benchmarks/results",)


def on_files(files: Files, config) -> Files:
    docs = Path(config["docs_dir"]).resolve()
    for folder in SHARED:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and path.suffix in (".json", ".png", ".svg", ".txt", ".md"):
                # the path a page's relative link normalises to, from the docs folder
                src_uri = Path("..", path.relative_to(ROOT)).as_posix() if docs.parent == ROOT else None
                if src_uri is None:
                    continue
                # included explicitly: a path that starts with ".." would pass for a dotfile, which is excluded
                files.append(File(src_uri, str(docs), config["site_dir"], config["use_directory_urls"],
                                  dest_uri=path.relative_to(ROOT).as_posix(), inclusion=InclusionLevel.INCLUDED))
    return files
