"""The page an export writes beside its model: ``index.html`` generates melodies in the browser, offline.

The page runs the step function in onnxruntime-web, taken from the npm registry's package (a pinned
version, its checksum checked) and kept in the folder: ``ort.wasm.min.js`` as it comes, and its WebAssembly
and loader inside ``runtime.js`` (the WebAssembly gzipped; the page unpacks it). The step function and
``model.json`` are inside ``model.js``. Every file is a classic script, so the page opens from ``file://``
as well as from a server: a browser refuses ``fetch`` and module scripts from ``file://``, not these.

The package is downloaded once (36 MB) into the cache (``$XDG_CACHE_HOME/melodygen``, else
``~/.cache/melodygen``); ``runtime=`` names a copy of the ``.tgz`` for a machine without the network.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import html
import json
import os
import shutil
import tarfile
import urllib.request
from importlib import resources
from pathlib import Path
from typing import Any

from melodygen.config import SamplingConfig
from melodygen.errors import MelodygenError
from melodygen.export.draws import PAGE_REPRESENTATIONS

RUNTIME_VERSION = "1.31.1"
RUNTIME_URL = f"https://registry.npmjs.org/onnxruntime-web/-/onnxruntime-web-{RUNTIME_VERSION}.tgz"
RUNTIME_SHA512 = "5GeH+bWQ+HxM10z7erGlsWqryrwMbSvm/1tkIsKTT48g0fI19VXVVC435t4t7VsPdSQeS7NmuZPXrQ73k82URw=="
#: what the page takes from the package
RUNTIME_FILES = {
    "script": "package/dist/ort.wasm.min.js",
    "glue": "package/dist/ort-wasm-simd-threaded.mjs",
    "wasm": "package/dist/ort-wasm-simd-threaded.wasm",
    "package": "package/package.json",
}


def pageless(description: dict[str, Any]) -> str | None:
    """Why the page cannot write this model's melodies, or None when it can."""
    if description["representation"] not in PAGE_REPRESENTATIONS:
        return (
            f"no page: it writes categorical and event melodies, and {description['representation_label']}'s "
            "tokens are decoded by MidiTok in Python"
        )
    return None


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "melodygen"


def runtime_archive(runtime: str | None = None) -> Path:
    """The onnxruntime-web package: ``runtime`` (a ``.tgz``) when given, else the cached download (made now
    when missing). Its checksum is the pinned one's, or one line says what is wrong."""
    if runtime is not None:
        path = Path(runtime).expanduser()
        if not path.is_file():
            raise MelodygenError(
                f"runtime={runtime}: no such file (the onnxruntime-web {RUNTIME_VERSION} .tgz)"
            )
    else:
        path = cache_dir() / f"onnxruntime-web-{RUNTIME_VERSION}.tgz"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.part")  # two exports at once each write their own
            try:
                with urllib.request.urlopen(RUNTIME_URL, timeout=120) as response, partial.open("wb") as out:
                    shutil.copyfileobj(response, out)
            except OSError as error:
                partial.unlink(missing_ok=True)
                raise MelodygenError(
                    f"could not download {RUNTIME_URL} ({error}); give a copy with runtime=PATH or page=false"
                ) from None
            _check(partial, f"{RUNTIME_URL} sent something else; try again", remove=True)
            partial.replace(path)
    _check(path, "delete it to download it again")
    return path


def _check(path: Path, advice: str, remove: bool = False) -> None:
    """One line when ``path`` is not the pinned package (``remove``: deleting it first)."""
    digest = base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()
    if digest != RUNTIME_SHA512:
        if remove:
            path.unlink(missing_ok=True)
        raise MelodygenError(
            f"{path}: not onnxruntime-web {RUNTIME_VERSION} as the npm registry publishes it (its sha512 "
            f"differs); {advice}"
        )


def read_runtime(archive: Path) -> dict[str, bytes]:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            return {key: tar.extractfile(name).read() for key, name in RUNTIME_FILES.items()}
    except (tarfile.TarError, KeyError, OSError) as error:
        raise MelodygenError(f"{archive}: not the onnxruntime-web package the page needs ({error})") from None


def _script(name: str, value: Any) -> str:
    return f"var {name} = {json.dumps(value, separators=(',', ':'))};\n"


def write_page(out_dir: Path, description: dict[str, Any], runtime: str | None = None) -> list[Path]:
    """Write the page's files into ``out_dir`` (beside ``step.onnx`` and ``model.json``); returns them."""
    why = pageless(description)
    if why is not None:
        raise MelodygenError(why)
    files = read_runtime(runtime_archive(runtime))
    web = resources.files("melodygen.export") / "web"
    step = (out_dir / description["onnx"]["file"]).read_bytes()
    name = Path(str(description["checkpoint"])).stem
    model = f"{description['architecture']} on {description['representation_label']}"
    title = name if name and name != "last" else model
    page = (
        web.joinpath("index.html")
        .read_text()
        .format(
            title=html.escape(title),
            checkpoint=html.escape(Path(str(description["checkpoint"])).name),
            runtime_version=RUNTIME_VERSION,
            temperature=SamplingConfig.temperature,
            top_k=SamplingConfig.top_k,
            top_p=SamplingConfig.top_p,
            length=SamplingConfig.length,
        )
    )
    package = json.loads(files["package"])
    wasm = base64.b64encode(gzip.compress(files["wasm"], 9, mtime=0)).decode()
    written = {
        "index.html": page,
        "melodygen.js": web.joinpath("melodygen.js").read_text(),
        "model.js": _script(
            "MELODYGEN_MODEL", {"description": description, "step": base64.b64encode(step).decode()}
        ),
        "runtime.js": _script(
            "MELODYGEN_RUNTIME", {"version": RUNTIME_VERSION, "glue": files["glue"].decode(), "wasm": wasm}
        ),
        "ort.wasm.min.js": files["script"].decode(),
        "THIRD_PARTY.txt": (
            f"ort.wasm.min.js and runtime.js hold onnxruntime-web {RUNTIME_VERSION}, from the npm registry\n"
            f"({RUNTIME_URL}), under its licence: {package.get('license')}, Copyright (c) Microsoft\n"
            f"Corporation ({package.get('repository', {}).get('url', '')}).\n"
        ),
    }
    paths = []
    for name, text in written.items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).iterdir() if p.is_file())
