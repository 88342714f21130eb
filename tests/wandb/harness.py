"""Shared helpers of the W&B SDK scenarios (`cargo xtask wandb`).

Each scenario is a plain script, run by xtask as its own process (in its own process group,
killed on timeout) against a seeded `cairn server` on loopback:

    import harness
    ctx = harness.setup()   # sets the SDK's environment; call it before `import wandb`
    import wandb

    def main():
        ...
        harness.check_eq(art.version, "v0", "version of the first log")

    harness.run(main)

`harness.run` prints PASSED or the failure (assertion message or the SDK's traceback) and
exits non-zero on failure.

What xtask passes in (see `xtask/src/wandb.rs`):

* `CAIRN_WANDB_BASE_URL`: the server, `http://127.0.0.1:PORT`.
* `CAIRN_WANDB_ADMIN_KEY`, `CAIRN_WANDB_ALICE_KEY`, `CAIRN_WANDB_BOB_KEY`: API keys of the seeded
  users (admin; alice, the owner of everything; bob, an outsider).
* `CAIRN_WANDB_TEAM`: a team whose only member is alice.
* `CAIRN_WANDB_PRIVATE_PROJECT`, `CAIRN_WANDB_PUBLIC_PROJECT`, `CAIRN_WANDB_OPEN_PROJECT`: alice's
  projects with those visibilities (`entity/project`).
* `CAIRN_WANDB_WORK`: an empty scratch directory for this scenario.
* `CAIRN_WANDB_CAIRN_BIN`: the `cairn` binary.
* `CAIRN_TEST_S3_ENDPOINT`: moto (S3), for the references scenario.

Everything the SDK writes (`WANDB_DIR`, caches, config, `HOME`) goes under the scratch directory.
Retries are cut short (`WANDB__GRAPHQL_RETRY_MAX` and friends), so a server answering 5xx shows up
as an error within seconds rather than as minutes of backoff.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.request
from typing import Any, Callable, Iterable

# How long one helper subprocess (the `cairn` CLI, the `wandb` CLI, an SDK child) may run.
CHILD_TIMEOUT = 120


class ScenarioFailure(AssertionError):
    """A check of a scenario failed; the message says what was expected and what was seen."""


def _require(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ScenarioFailure(
            f"{name} is not set: run the scenarios through `cargo xtask wandb`, which seeds a "
            "server and sets it"
        )
    return value


class Context:
    """The seeded server, the users' keys and this scenario's scratch directory."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.base_url = _require("CAIRN_WANDB_BASE_URL").rstrip("/")
        self.keys = {
            "admin": _require("CAIRN_WANDB_ADMIN_KEY"),
            "alice": _require("CAIRN_WANDB_ALICE_KEY"),
            "bob": _require("CAIRN_WANDB_BOB_KEY"),
        }
        self.team = _require("CAIRN_WANDB_TEAM")
        self.private_project = _require("CAIRN_WANDB_PRIVATE_PROJECT")
        self.public_project = _require("CAIRN_WANDB_PUBLIC_PROJECT")
        self.open_project = _require("CAIRN_WANDB_OPEN_PROJECT")
        self.work = pathlib.Path(_require("CAIRN_WANDB_WORK")).resolve()
        self.cairn_bin = _require("CAIRN_WANDB_CAIRN_BIN")
        self.s3_endpoint = os.environ.get("CAIRN_TEST_S3_ENDPOINT", "")
        # alice's project for this scenario: created on first use, private.
        self.entity = "alice"
        self.project = name.replace("_", "-")
        # A word unique to this run, mixed into file contents, so no blob is shared with another
        # scenario or an earlier run (deduplication would otherwise hide uploads).
        self.nonce = os.urandom(8).hex()

    def path(self, *parts: str) -> pathlib.Path:
        """A path under the scratch directory."""
        return self.work.joinpath(*parts)

    def qualified(self, name: str, project: str | None = None) -> str:
        """`entity/project/name` in this scenario's project (or `project`, `entity/project`)."""
        return f"{project or self.entity + '/' + self.project}/{name}"


def sdk_env(ctx: Context, user: str, home: pathlib.Path, api_key: str | None = None) -> dict:
    """The environment the SDK runs with as `user`, all of its state under `home`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("WANDB_") and not key.startswith("CAIRN_API")
    }
    for sub in ("wandb", "cache", "data", "config", "artifacts"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    env.update(
        {
            "HOME": str(home),
            "WANDB_BASE_URL": ctx.base_url,
            "WANDB_API_KEY": api_key if api_key is not None else ctx.keys[user],
            "WANDB_ENTITY": user,
            "WANDB_PROJECT": ctx.project,
            "WANDB_DIR": str(home / "wandb"),
            "WANDB_CACHE_DIR": str(home / "cache"),
            "WANDB_DATA_DIR": str(home / "data"),
            "WANDB_CONFIG_DIR": str(home / "config"),
            "WANDB_ARTIFACT_DIR": str(home / "artifacts"),
            "WANDB_MODE": "online",
            "WANDB_ERROR_REPORTING": "false",
            "WANDB_CONSOLE": "off",
            "WANDB_DISABLE_GIT": "true",
            "WANDB_DISABLE_CODE": "true",
            "WANDB_INIT_TIMEOUT": "60",
            "WANDB_HTTP_TIMEOUT": "30",
            # Private settings (`WANDB__X` is the setting `x_x`): few, short retries, so a 5xx
            # fails within seconds instead of backing off for minutes, and no system metrics.
            "WANDB__GRAPHQL_RETRY_MAX": "2",
            "WANDB__GRAPHQL_RETRY_WAIT_MIN_SECONDS": "1",
            "WANDB__GRAPHQL_RETRY_WAIT_MAX_SECONDS": "2",
            "WANDB__FILE_STREAM_RETRY_MAX": "2",
            "WANDB__FILE_STREAM_RETRY_WAIT_MIN_SECONDS": "1",
            "WANDB__FILE_STREAM_RETRY_WAIT_MAX_SECONDS": "2",
            "WANDB__FILE_TRANSFER_RETRY_MAX": "2",
            "WANDB__FILE_TRANSFER_RETRY_WAIT_MIN_SECONDS": "1",
            "WANDB__FILE_TRANSFER_RETRY_WAIT_MAX_SECONDS": "2",
            "WANDB__DISABLE_STATS": "true",
            "WANDB__DISABLE_MACHINE_INFO": "true",
            "WANDB__DISABLE_UPDATE_CHECK": "true",
            "WANDB__SAVE_REQUIREMENTS": "false",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if ctx.s3_endpoint:
        env.update(s3_env(ctx))
    return env


def s3_env(ctx: Context) -> dict:
    """Credentials and endpoint of the S3 emulator, for boto3 (the SDK) and object_store (cairn)."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        # boto3 as the SDK builds it reads this one ...
        "AWS_S3_ENDPOINT_URL": ctx.s3_endpoint,
        # ... object_store (the cairn client) and plain boto3 this one.
        "AWS_ENDPOINT_URL": ctx.s3_endpoint,
        "AWS_ALLOW_HTTP": "true",
    }


def setup(user: str = "alice") -> Context:
    """Points this process's SDK at the server as `user`; call before `import wandb`."""
    name = pathlib.Path(sys.argv[0]).stem
    # `s01_log_versions` -> `log_versions`
    if len(name) > 4 and name[0] == "s" and name[1:3].isdigit() and name[3] == "_":
        name = name[4:]
    ctx = Context(name)
    ctx.home = ctx.path("home", user)
    env = sdk_env(ctx, user, ctx.home)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(ctx.work)
    return ctx


# ---------------------------------------------------------------------------------------------
# Checks


def check(condition: Any, message: str) -> None:
    if not condition:
        raise ScenarioFailure(message)


def check_eq(actual: Any, expected: Any, what: str) -> None:
    if actual != expected:
        raise ScenarioFailure(f"{what}: expected {expected!r}, got {actual!r}")


def expect_error(
    call: Callable[[], Any],
    what: str,
    words: Iterable[str] = (),
    max_seconds: float = 60.0,
    auth_error: bool = False,
) -> BaseException:
    """Runs `call`, which must raise (quickly); its message must contain one of `words`.

    An authentication failure (the SDK's `AuthenticationError`, as when the server does not
    answer GraphQL at all) only counts when `auth_error` says it is what is expected.
    """
    start = time.monotonic()
    try:
        result = call()
    except Exception as error:  # noqa: BLE001 - any SDK error type will do, the text is checked
        took = time.monotonic() - start
        text = f"{type(error).__name__}: {error}"
        print(f"  {what}: raised as expected after {took:.1f}s: {text[:300]}")
        kinds = {kind.__name__ for kind in type(error).__mro__}
        if "AuthenticationError" in kinds and not auth_error:
            raise ScenarioFailure(
                f"{what}: expected the SDK's not-found or permission error, got an "
                f"authentication failure: {text}"
            ) from error
        words = list(words)
        if words and not any(word.lower() in text.lower() for word in words):
            raise ScenarioFailure(
                f"{what}: the error should mention one of {words}, got {text}"
            ) from error
        check(took <= max_seconds, f"{what}: the error took {took:.0f}s (retries?)")
        return error
    raise ScenarioFailure(f"{what}: expected an error, but the call returned {result!r}")


# ---------------------------------------------------------------------------------------------
# Files, digests, trees


def write_tree(root: pathlib.Path, files: dict[str, bytes]) -> dict[str, bytes]:
    """Writes `files` (relative path -> bytes) under `root` and returns them."""
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def read_tree(root: pathlib.Path | str) -> dict[str, bytes]:
    """Every regular file under `root`, by relative POSIX path."""
    root = pathlib.Path(root)
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def check_tree(root: pathlib.Path | str, expected: dict[str, bytes], what: str) -> None:
    """The files under `root` are exactly `expected`, byte for byte."""
    actual = read_tree(root)
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    different = sorted(
        name for name in set(expected) & set(actual) if expected[name] != actual[name]
    )
    if missing or extra or different:
        raise ScenarioFailure(
            f"{what}: the files under {root} differ from the originals: missing {missing}, "
            f"unexpected {extra}, different bytes {different}"
        )


def b64_md5(data: bytes) -> str:
    """A file entry's digest as W&B writes it: base64 of the MD5."""
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def artifact_digest(entries: dict[str, str]) -> str:
    """W&B's artifact digest from `path -> entry digest`: MD5 of the header and sorted lines."""
    hasher = hashlib.md5(b"wandb-artifact-manifest-v1\n")
    for path in sorted(entries):
        hasher.update(f"{path}:{entries[path]}\n".encode())
    return hasher.hexdigest()


def files_digest(files: dict[str, bytes]) -> str:
    """The artifact digest of files logged by content."""
    return artifact_digest({name: b64_md5(data) for name, data in files.items()})


def unique_bytes(ctx: Context, label: str, size: int = 0) -> bytes:
    """Content no other scenario or run has: the label, the run's nonce, padding to `size`."""
    head = f"{ctx.name}/{label}/{ctx.nonce}\n".encode()
    if size <= len(head):
        return head
    seed = hashlib.sha256(head).digest()
    blocks = bytearray(head)
    counter = 0
    while len(blocks) < size:
        blocks += hashlib.sha256(seed + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(blocks[:size])


def clear_cache(ctx: Context) -> None:
    """Empties the SDK's cache (`WANDB_CACHE_DIR`), so the next download goes over the wire."""
    cache = pathlib.Path(os.environ["WANDB_CACHE_DIR"])
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True, exist_ok=True)


# ---------------------------------------------------------------------------------------------
# The server's native API


def native(
    ctx: Context, method: str, path: str, user: str = "admin", body: Any = None
) -> tuple[int, Any]:
    """A request to the native API as `user`; the status and the decoded JSON (or text)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(ctx.base_url + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {ctx.keys[user]}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode(errors="replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def stats(ctx: Context) -> dict[str, int]:
    """The server's counters (`GET /api/v1/server/stats`, as the admin)."""
    status, body = native(ctx, "GET", "/api/v1/server/stats")
    check(status == 200 and isinstance(body, dict), f"server stats answered {status}: {body}")
    return body


def stats_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {key: after.get(key, 0) - before.get(key, 0) for key in after}


def native_version(ctx: Context, qualified: str, user: str = "alice") -> dict:
    """The native API's view of `entity/project/name:selector`."""
    entity, project, name = qualified.split("/", 2)
    status, body = native(ctx, "GET", f"/api/v1/projects/{entity}/{project}/artifacts/{name}", user)
    check(status == 200, f"GET the native version {qualified} answered {status}: {body}")
    return body


# ---------------------------------------------------------------------------------------------
# Child processes (the CLIs, the SDK as another user), each with a hard timeout


def run_child(
    argv: list[str],
    what: str,
    env: dict,
    cwd: pathlib.Path | None = None,
    timeout: float = CHILD_TIMEOUT,
    expect_ok: bool = True,
) -> subprocess.CompletedProcess:
    """Runs `argv` in its own process group; kills the group on timeout. Output is echoed."""
    start = time.monotonic()
    shown = " ".join(arg.splitlines()[0][:80] if arg else "''" for arg in argv[:8])
    print(f"  $ {shown}{' ...' if len(argv) > 8 else ''}  ({what})", flush=True)
    process = subprocess.Popen(
        argv,
        env=env,
        cwd=cwd or pathlib.Path.cwd(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        raise ScenarioFailure(
            f"{what}: `{' '.join(argv)}` did not finish within {timeout:.0f}s (a hang or an "
            f"SDK retry loop) and was killed; its output:\n{_tail(stdout)}\n{_tail(stderr)}"
        ) from None
    took = time.monotonic() - start
    # What the child reported about itself (not the SDK's chatter), for the scenario's log.
    for line in (stdout or "").splitlines()[-30:]:
        plain = re.sub(r"\x1b\[[0-9;]*m", "", line)
        if plain.strip() and not plain.startswith("wandb:"):
            print(f"    > {line}")
    result = subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)
    if expect_ok and process.returncode != 0:
        raise ScenarioFailure(
            f"{what}: `{' '.join(argv)}` exited {process.returncode} after {took:.1f}s; "
            f"stdout:\n{_tail(stdout)}\nstderr:\n{_tail(stderr)}"
        )
    return result


def _tail(text: str, lines: int = 40) -> str:
    kept = (text or "").rstrip().splitlines()[-lines:]
    return "\n".join("    | " + line for line in kept) or "    | (nothing)"


def cairn(ctx: Context, args: list[str], user: str = "alice", expect_ok: bool = True, **kw):
    """Runs the `cairn` CLI as `user`, with its own config and cache under the scratch dir."""
    home = ctx.path("cairn-home", user)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("WANDB_") and not key.startswith("CAIRN_")
    }
    env.update(
        {
            "HOME": str(home),
            "CAIRN_BASE_URL": ctx.base_url,
            "CAIRN_API_KEY": ctx.keys[user],
            "CAIRN_CONFIG_DIR": str(home / "config"),
            "CAIRN_CACHE_DIR": str(home / "cache"),
        }
    )
    if ctx.s3_endpoint:
        env.update(s3_env(ctx))
    return run_child([ctx.cairn_bin, *args], f"cairn {args[0]} {args[1] if len(args) > 1 else ''}",
                     env, expect_ok=expect_ok, **kw)


def wandb_cli(ctx: Context, args: list[str], user: str = "alice", **kw):
    """Runs the SDK's own `wandb` CLI (from this venv) as `user`."""
    home = ctx.path("home", f"{user}-cli")
    program = str(pathlib.Path(sys.executable).parent / "wandb")
    return run_child([program, *args], f"wandb {' '.join(args[:2])}", sdk_env(ctx, user, home),
                     **kw)


def sdk_child(
    ctx: Context,
    user: str,
    code: str,
    what: str,
    api_key: str | None = None,
    expect_ok: bool = True,
    timeout: float = CHILD_TIMEOUT,
) -> subprocess.CompletedProcess:
    """Runs `code` in a fresh Python with the SDK set up as `user` (its own state directories).

    The code sees `ctx` (a Context), `harness` and `wandb`; it reports through its exit status
    and output.
    """
    home = ctx.path("home", f"{user}-child-{time.monotonic_ns()}")
    env = sdk_env(ctx, user, home, api_key)
    # The child rebuilds a Context from the same variables.
    for key, value in os.environ.items():
        if key.startswith("CAIRN_WANDB_") or key == "CAIRN_TEST_S3_ENDPOINT":
            env[key] = value
    env["PYTHONPATH"] = str(pathlib.Path(__file__).resolve().parent)
    prelude = (
        "import harness, sys\n"
        f"ctx = harness.Context({ctx.name!r})\n"
        "import wandb\n"
    )
    return run_child(
        [sys.executable, "-c", prelude + code],
        what,
        env,
        cwd=home,
        timeout=timeout,
        expect_ok=expect_ok,
    )


# ---------------------------------------------------------------------------------------------
# Running a scenario


def run(main: Callable[[], None]) -> None:
    """Runs the scenario's `main`, prints PASSED or FAILED with the reason, and exits."""
    start = time.monotonic()
    name = pathlib.Path(sys.argv[0]).stem
    try:
        main()
    except ScenarioFailure as failure:
        traceback.print_exc()
        _report_sdk_logs()
        print(f"\nFAILED {name} after {time.monotonic() - start:.1f}s: {failure}", flush=True)
        _exit(1)
    except BaseException as error:  # noqa: BLE001 - report anything the SDK raises
        traceback.print_exc()
        _report_sdk_logs()
        print(
            f"\nFAILED {name} after {time.monotonic() - start:.1f}s: the SDK raised "
            f"{type(error).__name__}: {error}",
            flush=True,
        )
        _exit(1)
    print(f"PASSED {name} in {time.monotonic() - start:.1f}s", flush=True)
    _exit(0)


def _report_sdk_logs(lines: int = 20) -> None:
    """Prints the last warnings and errors of wandb-core's debug logs (they name the failing
    GraphQL operation or HTTP request, which the Python traceback often does not)."""
    work = os.environ.get("CAIRN_WANDB_WORK")
    if not work:
        return
    for log in sorted(pathlib.Path(work).rglob("debug-internal.log")):
        if log.is_symlink():  # `wandb/debug-internal.log` links to the latest run's
            continue
        found = [
            line.rstrip()
            for line in log.read_text(errors="replace").splitlines()
            if '"level":"ERROR"' in line or '"level":"WARN"' in line or "level=ERROR" in line
            or "level=WARN" in line
        ]
        if found:
            print(f"\nwarnings and errors of {log}:")
            for line in found[-lines:]:
                print("  " + line[:2000])


def _exit(code: int) -> None:
    """Exits at once: the SDK's background service must not keep a finished scenario alive."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def step(message: str) -> None:
    """Prints what the scenario does next (shown in the tail of a failure)."""
    print(f"- {message}", flush=True)
