"""Reading W&B's offline run files back, without network or account (for tests).

A ``run-<id>.wandb`` file is a 7-byte header (``:W&B``, a magic number, a version) and then LevelDB-log
blocks of 32 KiB: chunks of (crc32 4 bytes, length 2, type 1, data), a record split over blocks as
first/middle/last chunks. Each record is a ``wandb.proto.wandb_internal_pb2.Record``.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path

BLOCK, HEADER = 32768, 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path) -> Iterator:
    from wandb.proto.wandb_internal_pb2 import Record

    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    pos, pending = HEADER, b""
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:  # the rest of a block too short for a chunk header is padding
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        if kind == 0:  # zeros: the block's padding
            pos += left
            continue
        chunk = data[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length
        if kind in (FIRST, MIDDLE):
            pending += chunk
            continue
        record = Record()
        record.ParseFromString(pending + chunk if kind == LAST else chunk)
        pending = b""
        yield record


def _key(item) -> str:
    return item.key or "/".join(item.nested_key)


def read_run(path: Path) -> dict:
    """``run`` (id, name, group, job_type, tags), ``config`` (key → value), ``history`` (rows), ``summary``
    (key → its last value), ``files``, ``artifacts`` (type, name, aliases, the paths they hold) and
    ``exit_code`` (None: never closed) of a run."""
    run, config, history, files, artifacts, exit_code = {}, {}, [], [], [], None
    summary: dict = {}
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            r = record.run
            run = {
                "id": r.run_id, "name": r.display_name, "group": r.run_group, "job_type": r.job_type,
                "tags": list(r.tags),
            }  # fmt: skip
            config.update({_key(item): json.loads(item.value_json) for item in r.config.update})
        elif kind == "config":
            config.update({_key(item): json.loads(item.value_json) for item in record.config.update})
        elif kind == "history":
            history.append({_key(item): json.loads(item.value_json) for item in record.history.item})
        elif kind == "summary":
            summary.update({_key(item): json.loads(item.value_json) for item in record.summary.update})
            for item in record.summary.remove:
                summary.pop(_key(item), None)
        elif kind == "files":
            files += [f.path for f in record.files.files]
        elif kind == "artifact":
            a = record.artifact
            paths = [entry.path for entry in a.manifest.contents]
            artifacts.append({"type": a.type, "name": a.name, "aliases": list(a.aliases), "paths": paths})
        elif kind == "exit":
            exit_code = record.exit.exit_code
    return {
        "run": run, "config": config, "history": history, "summary": summary, "files": files, "artifacts": artifacts,
        "exit_code": exit_code,
    }  # fmt: skip
