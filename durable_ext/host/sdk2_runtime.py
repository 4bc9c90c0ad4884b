"""Where an app of the 2.x SDK runs: Python 3.13 or later, with ``azure-functions`` 2.x and its SDK.

The two SDK lines cannot share an interpreter: ``azure-functions-durable`` 1.x needs ``azure-functions``
1.x (Python up to 3.12), 2.x needs ``azure-functions`` 2.x (Python 3.13 and later). ``durable-ext
start`` reads which line an app asks for before it imports it: a ``requirements.txt`` that asks for
``azure-functions-durable`` 2 or later, or ``function.json`` bindings with ``durableRequiresGrpc``. When
the Python it runs on does not have that line, it runs itself again on one that does:

- a virtual environment in the cache folder (``$XDG_CACHE_HOME/durable-ext/sdk2-py<X.Y>-<hash>``, else
  ``~/.cache/...``), one per set of app requirements, made once with the first Python 3.13 or later
  found (``DURABLE_EXT_SDK2_PYTHON``, then ``python3.14`` and ``python3.13`` on PATH, then pyenv's
  versions), holding durable-ext (from where this one is installed), its own dependencies but the 1.x
  SDK's, and the app's ``requirements.txt``;
- made in a staging folder under a lock and renamed into place, so concurrent first runs neither clash
  nor leave half an environment.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

from ..errors import ConfigurationError
from .azurite_install import CHECKOUT
from .function_folders import function_folders

log = logging.getLogger("durable_ext.host")

SDK2_PYTHON_SETTING = "DURABLE_EXT_SDK2_PYTHON"
"""An interpreter of Python 3.13 or later to make the 2.x SDK's environment with."""
SDK_LINE_MARK = "DURABLE_EXT_SDK_LINE"
"""Set on the host started again in that environment (so it never starts itself once more)."""
MIN_PYTHON = (3, 13)
PIP_TIMEOUT_S = 900.0
_SDK = "azure-functions-durable"
_ONE_X_ONLY = ("azure-functions", "azure-functions-durable")
_SPEC = re.compile(r"^\s*azure[-_.]functions[-_.]durable\s*(\[[^\]]*\])?\s*(?P<spec>[^;#]*)", re.IGNORECASE)


def declared_sdk_line(script_root: Path) -> int:
    """The SDK line the app asks for: 2 when its requirements or bindings say so, else 1."""
    requirements = script_root / "requirements.txt"
    if requirements.is_file() and _asks_for_two(requirements.read_text(encoding="utf-8", errors="replace")):
        return 2
    for folder in function_folders(script_root):
        try:
            bindings = json.loads((folder / "function.json").read_text(encoding="utf-8-sig")).get("bindings")
        except (OSError, ValueError, AttributeError):
            continue
        if any(isinstance(b, dict) and b.get("durableRequiresGrpc") for b in bindings or []):
            return 2
    return 1


def _asks_for_two(requirements: str) -> bool:
    for line in requirements.splitlines():
        found = _SPEC.match(line)
        if found is None:
            continue
        versions = re.findall(r"(==|>=|~=|>)\s*(\d+)", found.group("spec"))
        return any(int(major) >= 2 for _, major in versions)
    return False


def running_sdk_line() -> int | None:
    try:
        return int(metadata.version(_SDK).split(".", 1)[0])
    except (metadata.PackageNotFoundError, ValueError):
        return None


def needs_sdk2_runtime(script_root: Path) -> bool:
    """True when the app asks for the 2.x SDK and this interpreter does not have it."""
    if os.environ.get(SDK_LINE_MARK):
        return False
    return declared_sdk_line(script_root) == 2 and running_sdk_line() != 2


def run_in_sdk2_runtime(script_root: Path, argv: list[str]) -> None:
    """Replace this process with the host on the 2.x SDK's interpreter (made first if need be)."""
    python = sdk2_environment(script_root)
    log.info("The app asks for the 2.x SDK: running it on %s", python)
    os.environ[SDK_LINE_MARK] = "2"
    os.execv(python, [python, "-m", "durable_ext", *argv])


def sdk2_environment(script_root: Path) -> str:
    base = find_python313()
    requirements = script_root / "requirements.txt"
    wanted = requirements.read_text(encoding="utf-8") if requirements.is_file() else f"{_SDK}>=2\n"
    target = _cache_root() / f"sdk2-py{_version_of(base)}-{_digest(wanted)}"
    python = target / "bin" / "python"
    if python.is_file():
        return str(python)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _lock(target.parent / f"{target.name}.lock"):
        if not python.is_file():
            _make_environment(base, target, wanted)
    return str(python)


def find_python313() -> str:
    candidates = [
        os.environ.get(SDK2_PYTHON_SETTING, ""),
        shutil.which("python3.14"),
        shutil.which("python3.13"),
    ]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if pyenv.is_dir():
        candidates += [str(p / "bin" / "python") for p in sorted(pyenv.iterdir(), reverse=True)]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and _at_least(candidate, MIN_PYTHON):
            return candidate
    raise ConfigurationError(
        "The app asks for azure-functions-durable 2.x, which needs Python 3.13 or later, and none was "
        f"found. Install Python 3.13 (or set {SDK2_PYTHON_SETTING} to its interpreter), or ask for "
        "azure-functions-durable 1.x in requirements.txt."
    )


def _at_least(python: str, version: tuple[int, int]) -> bool:
    try:
        found = _version_of(python)
    except ConfigurationError:
        return False
    return tuple(int(p) for p in found.split(".")) >= version


def _version_of(python: str) -> str:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ConfigurationError(f"Cannot run {python}: {exc}") from exc
    return out.stdout.strip()


def _cache_root() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    return (Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache") / "durable-ext"


def _digest(requirements: str) -> str:
    own = f"{metadata.version('durable-ext')} {' '.join(_own_source())}"
    return hashlib.sha256(f"{own}\n{requirements}".encode()).hexdigest()[:10]


def own_requirements() -> list[str]:
    """durable-ext's dependencies without the 1.x SDK's (the app's requirements bring their 2.x)."""
    kept = []
    for requirement in metadata.requires("durable-ext") or []:
        if "extra ==" in requirement:
            continue
        name = re.split(r"[<>=!~;\[\s]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        if name not in _ONE_X_ONLY:
            kept.append(requirement)
    return kept


def _own_source() -> list[str]:
    """How pip installs this durable-ext: from its checkout (editable) or its released version."""
    if (CHECKOUT / "pyproject.toml").is_file():
        return ["-e", str(CHECKOUT)]
    return [f"durable-ext=={metadata.version('durable-ext')}"]


def _make_environment(base: str, target: Path, requirements: str) -> None:
    staging = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    log.info("Making the environment for the 2.x SDK in %s (once)", target)
    _run([base, "-m", "venv", str(staging)], "make a virtual environment")
    pip = [str(staging / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    (staging / "app-requirements.txt").write_text(requirements, encoding="utf-8")
    _run([*pip, "--no-deps", *_own_source()], "install durable-ext")
    _run(
        [*pip, *own_requirements(), "-r", str(staging / "app-requirements.txt")],
        "install the app's requirements",
    )
    staging.rename(target)  # a venv's scripts name its folder: the interpreter is run by path, not by them


def _run(command: list[str], what: str) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigurationError(f"Could not {what} for the 2.x SDK: {exc}") from exc
    if done.returncode != 0:
        said = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
        raise ConfigurationError(
            f"Could not {what} for the 2.x SDK (exit code {done.returncode}):\n{said}\nCheck that pip can "
            "reach its index and that the app's requirements.txt names packages that exist."
        )


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path``, waiting for a process that makes the environment (the kernel
    releases its lock if it dies; its pip runs end within ``PIP_TIMEOUT_S``)."""
    if sys.platform == "win32":  # no flock; the rename into place still keeps an environment whole
        yield
        return
    import fcntl

    with path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


if __name__ == "__main__":  # make the environment ahead of time: python -m durable_ext.host.sdk2_runtime APP
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(sdk2_environment(Path(sys.argv[1]).resolve()))
