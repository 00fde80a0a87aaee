"""Loader-only throughput: images/s of DeviceLoader with crop + flip + normalise.

    python benchmarks/loader.py [--device cpu] [--images 50000] [--batch-size 512] [--repeats 5]

CIFAR-shaped synthetic data (3x32x32 uint8), so it needs no download. Each repeat iterates one
full epoch; the first epoch is a warm-up and is reported apart. Target (issue 2): >= 20,000
images/s on a 2-core CPU. Results: benchmarks/results/loader-<device>.json.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from cifarbench.data.loader import Augment, DeviceLoader
from cifarbench.data.store import load_dataset
from cifarbench.devices import configure_threads, resolve_device, synchronize
from cifarbench.results import print_table, summarise, write_result


def time_epoch(loader: DeviceLoader, epoch: int) -> float:
    synchronize(loader.device)
    start = time.perf_counter()
    for x, y in loader.epoch(epoch):
        pass
    synchronize(loader.device)  # sync point: the last batch's kernels have run
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--images", type=int, default=50_000)
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", default=None, help="JSON path (default benchmarks/results/loader-<device>.json)")
    args = p.parse_args()
    configure_threads()
    device = resolve_device(args.device)
    data = load_dataset("synthetic", shape=(3, 32, 32), train_size=args.images, test_size=1)
    configs = {
        "normalise only": Augment(),
        "flip + normalise": Augment(flip="random"),
        "crop(pad 4) + flip + normalise": Augment(flip="random", crop_padding=4),
        "translate(2, reflect) + alt. flip + normalise": Augment(flip="alternating", crop_padding=2, pad_mode="reflect"),
    }
    rows, results = [], {}
    for name, augment in configs.items():
        loader = DeviceLoader(data.train, data.mean, data.std, args.batch_size, device, augment=augment)
        warmup = time_epoch(loader, 0)
        times = [time_epoch(loader, e) for e in range(1, args.repeats + 1)]
        rates = [args.images / t for t in times]
        stats = summarise(rates)
        results[name] = {"images_per_second": stats, "warmup_seconds": warmup}
        rows.append([name, stats["min"], stats["median"], stats["max"], warmup])
    print_table(f"DeviceLoader throughput on {device} ({args.images:,} images 3x32x32, batch {args.batch_size}, "
                f"{torch.get_num_threads()} threads)", ["pipeline", "min img/s", "median img/s", "max img/s",
                                                        "warm-up epoch s"], rows)
    out = args.out or Path(__file__).parent / "results" / f"loader-{device.type}.json"
    write_result(out, "loader", {"device": str(device), "images": args.images, "batch_size": args.batch_size,
                                 "repeats": args.repeats, "target_images_per_second": 20_000,
                                 "results": results}, device)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
