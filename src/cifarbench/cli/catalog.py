"""`cifarbench info`, `list` and `data`: what this machine is, what the registries hold, and
datasets fetched or verified ahead of time."""

from __future__ import annotations

import json

from cifarbench.cli.commands import command


def info_options(p) -> None:
    p.add_argument("--json", action="store_true", help="print it as JSON")


def list_options(p) -> None:
    from cifarbench.registry import CATALOG

    p.add_argument("what", choices=tuple(CATALOG), help="which registry: " + ", ".join(CATALOG))


def data_options(p) -> None:
    p.add_argument("action", choices=("download", "verify"))
    p.add_argument("dataset")
    p.add_argument("--data-dir", help="the only folder the dataset is read from and downloaded to")


@command("info", "print this machine's fingerprint (what every run records)", options=info_options)
def cmd_info(args) -> int:
    from cifarbench.fingerprint import machine_info

    info = machine_info()
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        width = max(map(len, info))
        for key, value in info.items():
            print(f"{key:<{width}}  {value}")
    return 0


@command(
    "list",
    "list what a registry holds: models, recipes, datasets, loggers, benchmarks, ...",
    options=list_options,
    example=("models",),
)
def cmd_list(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from cifarbench.registry import CATALOG, catalogued

    columns: list[str]
    if args.what == "models":  # with parameter counts and sources
        from cifarbench.models.registry import model_table

        columns, rows = model_table()
    elif args.what == "datasets":  # with sizes and where they come from
        from cifarbench.data.store import dataset_table

        columns, rows = dataset_table()
    elif args.what == "recipes":  # with their optimizer, schedule, epochs and batch
        from cifarbench.training.recipes import recipe_table

        columns, rows = recipe_table()
    else:  # any other registry: each name with its help line
        registry = catalogued(args.what)
        columns = [registry.kind, f"what it is (given to {CATALOG[args.what][1]})"]
        rows = [[name, registry.describe(name)] for name in registry.names()]
    table = Table(show_lines=False)
    for column in columns:
        table.add_column(column, justify="right" if column.startswith("param") else "left")
    for row in rows:
        table.add_row(*row)
    Console(width=160).print(table)
    return 0


@command("data", "download or verify a dataset", options=data_options, example=("verify", "mnist"))
def cmd_data(args) -> int:
    from cifarbench.data.download import ensure_files
    from cifarbench.data.registry import get_spec
    from cifarbench.data.store import load_dataset

    spec = get_spec(args.dataset)
    if args.action == "download":
        ds = load_dataset(args.dataset, data_dir=args.data_dir, quiet=False)
        print(
            f"{ds.name}: {len(ds.train):,} train / {len(ds.test):,} test images, "
            f"mean {ds.mean} std {ds.std} ({ds.location})"
        )
    else:
        _, records = ensure_files(spec, args.data_dir, download=False)  # verifies every file
        for record in records:
            print(f"ok  {record['path']}  md5 {record['md5']}")
    return 0
