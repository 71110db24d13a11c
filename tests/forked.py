"""Run a ``melodygen-*`` command in a process forked from one that has already imported torch and Lightning.

A command started with ``python -m melodygen.cli.<command>`` spends 7 to 12 s of a 2-core machine importing
torch, pytorch_lightning and their dependencies before it reads its first argument, and the suite runs
such a command about a hundred times. Here a server (this file run as a script, one per test process) is a
fresh interpreter that imports those packages once and does nothing else. For each command it forks a
child that becomes ``python -m melodygen.cli.<command> ARGS`` started in the command's folder, with its
environment and the ``sys.path`` such an interpreter has, runs the command's ``main()`` and exits with its
status. No command's run is left in the next one's process, and none of the test process's state is in any.

What a fork cannot give: a variable that the preloaded packages read when they were imported (the server's
environment is the test process's, less nothing). Such commands start a new interpreter
(:func:`can_fork`; ``fresh=True`` in :func:`helpers.run_cli`).

Protocol, one line of JSON each way: the test process sends ``{module, args, cwd, env, out, err}``; the
server answers ``{"pid": …}`` once the child runs, then ``{"status": …}`` (an exit status, or minus the
signal that ended it) when it ends.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import subprocess
import sys
import tempfile
from pathlib import Path

#: imported once by the server: most of a command's start. Not Lightning: at import it adds its own log handler
#: unless logging is already set up, which a command does first
PRELOAD = (
    "numpy",
    "torch",
    "torch._dynamo",
    "torchmetrics",
    "scipy.signal",
    "omegaconf",
    "hydra",
    "pretty_midi",
)
#: variables a preloaded package or the interpreter reads at start (a command that changes one starts afresh)
READ_AT_START = ("PYTHONPATH", "PYTHONHASHSEED", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "LD_PRELOAD")

_server: subprocess.Popen | None = None


def can_fork(env: dict[str, str]) -> bool:
    """Whether a command with this environment runs the same forked as started afresh."""
    return sys.platform == "linux" and all(env.get(k) == os.environ.get(k) for k in READ_AT_START)


def _running_server() -> subprocess.Popen:
    global _server
    if _server is None or _server.poll() is not None:
        _server = subprocess.Popen(
            [sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        atexit.register(_server.kill)
    return _server


def run(
    command: str, args: list[str], cwd: Path, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess:
    """``python -m melodygen.cli.<command> *args`` in ``cwd`` with exactly ``env``, forked: its status and
    its output, as :func:`subprocess.run` with ``capture_output=True, text=True`` gives them."""
    module = f"melodygen.cli.{command}"
    argv = [sys.executable, "-m", module, *args]
    server = _running_server()
    with tempfile.TemporaryDirectory(prefix="melodygen-cli-") as folder:
        out, err = Path(folder) / "stdout", Path(folder) / "stderr"
        request = {"module": module, "args": list(args), "cwd": str(cwd), "env": dict(env)}
        server.stdin.write(json.dumps({**request, "out": str(out), "err": str(err)}) + "\n")
        server.stdin.flush()
        pid = json.loads(server.stdout.readline())["pid"]
        ready, _, _ = select.select([server.stdout], [], [], timeout)
        if not ready:
            os.kill(pid, 9)
            server.stdout.readline()
            raise subprocess.TimeoutExpired(argv, timeout, _read(out), _read(err))
        status = json.loads(server.stdout.readline())["status"]
        return subprocess.CompletedProcess(argv, status, _read(out), _read(err))


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def serve() -> None:
    """The server: preload, then fork a child per request and report its pid and its status."""
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    interpreter_path = sys.path[1:]  # sys.path[0] is this file's folder; a command's is its own cwd
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _become(request, interpreter_path)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"status": os.waitstatus_to_exitcode(status)}), flush=True)


def _become(request: dict, interpreter_path: list[str]) -> None:
    """In the forked child: become ``python -m <module> *args`` started in ``cwd``, run, exit."""
    import importlib
    import importlib.util

    code = 1
    try:
        for fd, key in ((0, None), (1, "out"), (2, "err")):
            target = os.open(request[key], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600) if key else None
            target = os.open(os.devnull, os.O_RDONLY) if target is None else target
            os.dup2(target, fd)
            os.close(target)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        tempfile.tempdir = None  # gettempdir() reads TMPDIR again
        extra = [p for p in request["env"].get("PYTHONPATH", "").split(os.pathsep) if p]
        sys.path[:] = [request["cwd"], *extra, *interpreter_path]
        spec = importlib.util.find_spec(request["module"])
        sys.argv = [spec.origin, *request["args"]]
        # a command that starts itself again (Lightning's DDP launcher) does it as `python -m <module>`
        sys.modules["__main__"].__spec__ = spec
        importlib.import_module(request["module"]).main()
        code = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
    except BaseException:  # as the interpreter reports an uncaught exception
        import traceback

        traceback.print_exc()
    finally:
        try:
            # what the interpreter does at exit, in its order: wait for the threads that are not daemons
            # (after the hooks that tell pools such as joblib's to stop), then the atexit functions
            import threading

            threading._shutdown()
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


if __name__ == "__main__":
    serve()
