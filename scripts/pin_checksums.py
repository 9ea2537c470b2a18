#!/usr/bin/env python3
"""Writes brain-data/catalog/<dataset>.sums from a local mirror of the upstream files.

Each line is `<sha256> <size in bytes> <path>`, the path relative to the dataset's folder, which
is also its sub-path in the mirror and in the cache. cortexbench refuses any file whose hash is
not the pinned one. Run after the catalog gains a dataset or upstream moves to a new pinned
commit:

    python3 scripts/pin_checksums.py ../shared/brain-data kriegeskorte2008-92images ...

A dataset whose mirror folder is not its id is given as `<id>=<folder>`, e.g.
`cifar10=cifar10-jpeg`.
"""
import hashlib
import pathlib
import sys


def main():
    mirror = pathlib.Path(sys.argv[1])
    out_dir = pathlib.Path(__file__).resolve().parent.parent / "brain-data" / "catalog"
    for arg in sys.argv[2:]:
        dataset, _, folder = arg.partition("=")
        root = mirror / (folder or dataset)
        lines = []
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            lines.append(f"{digest} {path.stat().st_size} {path.relative_to(root).as_posix()}\n")
        target = out_dir / f"{dataset}.sums"
        tmp = target.with_suffix(".sums.tmp")
        tmp.write_text("".join(lines))
        tmp.replace(target)
        print(f"{target}: {len(lines)} files")


if __name__ == "__main__":
    main()
