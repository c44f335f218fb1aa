"""Warm kernels: every notebook runs in a fresh kernel process that did not pay for the heavy imports.

A fresh IPython kernel spends about two seconds starting the interpreter and importing ipykernel, pandas,
matplotlib, scipy and the helpers before a notebook's first line runs; a book of two dozen notebooks pays
that two dozen times. Here one **zygote** process imports all of that once (:data:`PRELOAD`), then waits on
a Unix socket. The kernel manager's command (:class:`WarmKernelManager`) is a tiny launcher
(``_warm_launcher.py``, standard library only) that asks the zygote to ``fork``: the child process takes the
launcher's arguments, working directory, environment and standard streams, and becomes an ordinary
``ipykernel`` kernel, which papermill drives as before (its parameter cell and the executed ``.ipynb`` files
are unchanged).

Isolation is a process's: each notebook gets its own forked process, used for that notebook only and ended
after it, so nothing one notebook does (a global, a module attribute, a matplotlib setting, an open file)
reaches the next; the zygote itself never runs notebook code. What the zygote did before forking is what a
fresh kernel does on import, in the same environment (``MPLBACKEND`` as ipykernel sets it, before matplotlib
is imported; numpy's global random state is re-seeded from the OS in each child, as a new process would be).
``tests/test_warm_kernels.py`` checks that state does not leak and that the executed notebooks are the same,
byte for byte apart from papermill's timestamps, as with fresh kernels.

POSIX only (``fork``); elsewhere, or with ``BOOK_WARM_KERNELS=0``, the build starts fresh kernels.
"""
from __future__ import annotations

import importlib
import json
import logging
import os
import pkgutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from jupyter_client.manager import KernelManager
from traitlets import default

#: Imported by the zygote before it forks: what the chapters' set-up cells import (the helper package pulls in
#: pandas, numpy, scipy, matplotlib), the kernel itself, and the packages the helpers import inside functions
#: (on first use, so a chapter would otherwise pay for them: seaborn ~1 s, statsmodels.api ~0.6 s for RMST
#: regression, jupytext ~0.3 s for every chapter's parameter check).
PRELOAD = ("ipykernel.kernelapp", "ipykernel.ipkernel", "IPython", "numpy", "pandas", "scipy", "matplotlib",
           "matplotlib.pyplot", "helpers.analyses", "helpers.report", "helpers.stats", "helpers.study",
           "seaborn", "statsmodels.api", "jupytext")

#: The backend ipykernel selects when MPLBACKEND is not set (ipykernel.kernelapp.init_gui_pylab).
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"

LAUNCHER = Path(__file__).with_name("_warm_launcher.py")


def warm_kernels_enabled() -> bool:
    return hasattr(os, "fork") and hasattr(socket, "AF_UNIX") and os.environ.get("BOOK_WARM_KERNELS", "1") != "0"


def _preload() -> None:
    os.environ["MPLBACKEND"] = os.environ.get("MPLBACKEND") or INLINE_BACKEND  # read when matplotlib is imported
    for name in PRELOAD:
        try:
            module = importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a kernel that needs it will import it (and fail) itself
            continue
        if name.startswith("helpers."):  # every submodule of the layers the notebooks use
            for info in pkgutil.walk_packages(module.__path__, name + "."):
                try:
                    importlib.import_module(info.name)
                except Exception:  # noqa: BLE001
                    pass
    try:  # published.yaml and study.yaml files and notebook sources parsed once here, not in every chapter
        from helpers.analyses.validation import preparse_notebooks
        from helpers.paths import NOTEBOOKS_DIR, STUDIES_DIR
        from helpers.study.published import preparse_studies
        from helpers.study.spec import preparse_specs

        preparse_studies(STUDIES_DIR)
        preparse_specs(STUDIES_DIR)
        preparse_notebooks(NOTEBOOKS_DIR)
    except Exception:  # noqa: BLE001 - the chapters parse them themselves (caches by text)
        pass
    try:  # the PDF fonts' fixed subsets, made once here, not in every chapter
        from helpers.report.display import warm_pdf_font_subsets

        warm_pdf_font_subsets()
    except Exception:  # noqa: BLE001 - the first PDF of a chapter makes them
        pass
    # a fresh kernel has not resolved matplotlib's backend yet; neither may the zygote
    assert "matplotlib_inline.backend_inline" not in sys.modules, "the zygote must not load the inline backend"


def _recv_request(conn: socket.socket) -> tuple[dict, list[int]]:
    data, fds, _flags, _addr = socket.recv_fds(conn, 1 << 20, 3)
    size = int.from_bytes(data[:8], "big")
    body = data[8:]
    while len(body) < size:
        chunk = conn.recv(size - len(body))
        if not chunk:
            raise ConnectionError("the launcher closed the connection")
        body += chunk
    return json.loads(body), fds


class _LoopbackTransportWarning(logging.Filter):
    """Drops ipykernel 7's warning that the kernel talks over TCP without encryption, which the build's log
    showed once per notebook: these kernels listen on the loopback interface only, for a client in the same
    build, and every message is signed with the connection file's key (a file only this user can read)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "running over TCP without encryption" not in record.getMessage()


def _become_kernel(listener: socket.socket, conn: socket.socket, request: dict, fds: list[int],
                   base_path: list[str]) -> None:
    """In the forked child: take the launcher's streams, directory and environment, and run ipykernel."""
    code = 1
    try:
        listener.close()
        for signum in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = ["ipykernel_launcher", *request["argv"]]
        if os.environ.get("JPY_PARENT_PID"):  # read by ipykernel when imported, i.e. by the zygote: say it again
            sys.argv.append(f"--IPKernelApp.parent_handle={os.environ['JPY_PARENT_PID']}")
        sys.path[:] = base_path  # as ipykernel_launcher leaves it; IPython adds the working directory back
        import numpy.random

        numpy.random.seed()  # a new process draws a new global state; so does each child

        def watch() -> None:  # the launcher (the kernel manager's process) went away: so does the kernel
            try:
                while conn.recv(64):
                    pass
            except OSError:
                pass
            os._exit(1)

        threading.Thread(target=watch, daemon=True, name="warm-kernel-watch").start()
        logging.getLogger("IPKernelApp").addFilter(_LoopbackTransportWarning())
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve(path: str) -> None:
    """The zygote: preload, listen on ``path``, fork one kernel per request; exit when stdin closes."""
    cwd = os.getcwd()
    base_path = [p for p in sys.path if p not in ("", cwd)]
    _preload()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path + ".tmp")
    listener.listen(64)
    os.rename(path + ".tmp", path)  # the socket appears only when the zygote is ready
    print("ready", flush=True)
    children: set[int] = set()
    listener.settimeout(0.5)
    while True:
        if sys.stdin.closed or _stdin_closed():
            break
        _reap(children, seconds=0.0)
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        conn.settimeout(None)
        try:
            request, fds = _recv_request(conn)
        except (OSError, ValueError):
            conn.close()
            continue
        pid = os.fork()
        if pid == 0:
            _become_kernel(listener, conn, request, fds, base_path)
        for fd in fds:
            os.close(fd)
        try:
            conn.sendall(f"{pid}\n".encode())
        except OSError:
            pass
        conn.close()
        children.add(pid)
    listener.close()
    for pid in children:  # kernels still running when the build ends
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    _reap(children, seconds=1.0)


def _reap(children: set[int], seconds: float) -> None:
    """Wait (a bounded time) for the zygote's ended kernels, so that none is left a zombie and their CPU time
    counts in the build's own (``RUSAGE_CHILDREN``, as benchmarks/bench_additions.py reads it)."""
    import time

    deadline = time.monotonic() + seconds
    while True:  # one pass at least (seconds = 0: the kernels that have ended, without waiting)
        for pid in list(children):
            try:
                done, _status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                children.discard(pid)
        if not children or time.monotonic() >= deadline:
            return
        time.sleep(0.01)


def _stdin_closed() -> bool:
    import select

    readable, _, _ = select.select([sys.stdin], [], [], 0)
    return bool(readable) and not sys.stdin.buffer.read1(1)


class Zygote:
    """Start the zygote (``with Zygote() as z: ... z.socket``); it ends when the build closes its stdin."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="hcc-warm-")
        self.socket = os.path.join(self.dir, "zygote.sock")
        self.proc = subprocess.Popen([sys.executable, "-c", f"from helpers.build.warm import serve; serve({self.socket!r})"],
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)

    def close(self) -> None:
        if self.proc.poll() is None:
            if not os.path.exists(self.socket):  # still importing, no kernel forked yet
                self.proc.kill()
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        import shutil

        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "Zygote":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


#: How long the client waits for silence on IOPub once the kernel has answered ``kernel_info`` (jupyter_client
#: waits 0.2 s), and how often the manager checks that a kernel asked to shut down has ended (0.1 s). Both are
#: idle time in every notebook, a tenth of a warm notebook's wall time on the small pages.
IOPUB_QUIET_SECONDS = 0.01
SHUTDOWN_POLL_SECONDS = 0.01


async def _wait_for_ready(client, timeout: float | None = None) -> None:
    """A kernel is ready when it answers ``kernel_info`` on the shell channel and IOPub carries its status
    message; then what is still queued on IOPub is drained. Stray start-up messages cannot reach a cell's
    outputs in any case: nbclient keeps only IOPub messages whose parent is the cell's request."""
    import time
    from queue import Empty

    from jupyter_client.utils import ensure_async

    deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
    while True:
        client.kernel_info()
        try:
            reply = await ensure_async(client.shell_channel.get_msg(timeout=1))
        except Empty:
            reply = None
        if reply is not None and reply["msg_type"] == "kernel_info_reply":
            try:
                await ensure_async(client.iopub_channel.get_msg(timeout=0.2))
            except Empty:  # IOPub not connected yet: ask again
                pass
            else:
                client._handle_kernel_info_reply(reply)
                break
        if not await client._async_is_alive():
            raise RuntimeError("Kernel died before replying to kernel_info")
        if time.monotonic() > deadline:
            raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")
    while True:
        try:
            await ensure_async(client.iopub_channel.get_msg(timeout=IOPUB_QUIET_SECONDS))
        except Empty:
            break


def _client_class():
    from jupyter_client.blocking.client import BlockingKernelClient
    from jupyter_client.utils import run_sync

    class WarmKernelClient(BlockingKernelClient):
        """The blocking client, with :func:`_wait_for_ready` (:data:`IOPUB_QUIET_SECONDS`)."""

        wait_for_ready = run_sync(_wait_for_ready)

    return WarmKernelClient


class WarmKernelManager(KernelManager):
    """A kernel manager whose kernel is forked by the zygote at :data:`ZYGOTE_SOCKET` (set by the worker)."""

    zygote_socket: str | None = None

    @default("client_factory")
    def _warm_client_factory(self):  # the client nbclient drives
        return _client_class()

    async def _async_finish_shutdown(self, waittime: float | None = None, pollinterval: float = SHUTDOWN_POLL_SECONDS,
                                     restart: bool = False) -> None:
        await super()._async_finish_shutdown(waittime, pollinterval=pollinterval, restart=restart)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        if not self.zygote_socket or "ipykernel_launcher" not in cmd:
            return cmd
        args = cmd[cmd.index("ipykernel_launcher") + 1:]
        return [sys.executable, "-I", "-S", str(LAUNCHER), self.zygote_socket, *args]


def kernel_manager_class(zygote_socket: str | None):
    """The kernel manager papermill should use: warm kernels from ``zygote_socket``, or fresh ones (None)."""
    if not zygote_socket:
        return KernelManager
    return type("WarmKernelManagerFor", (WarmKernelManager,), {"zygote_socket": zygote_socket})
