"""Runs the web UI tests: every `test_*` function of the `tNN_*.py` modules beside this file, in
file and definition order, each with a fresh browser and under a hard timeout.

    python run.py [--test NAME]... [--list]

`--test` keeps the tests whose name (`t01_session.sign_in_and_out`) contains NAME. Each test
gets a `harness.Ui` and fails by raising (a `harness.Failure` says what was expected and what
was seen). A test still running after `CAIRN_UI_TEST_TIMEOUT` seconds is interrupted and fails.
After a failure the page's screenshot and HTML go to `<work>/failures/`. All tests run; the
summary ends with `N passed, N failed`, the results go to `<work>/results.json` (xtask reads
them) and the output also to `<work>/logs/run.log`. The exit code is 1 when any test failed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pathlib
import signal
import sys
import time
import traceback
from typing import Any, Callable, TextIO

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness  # noqa: E402

# How long closing a browser may take before its driver is killed.
CLOSE_SECONDS = 20


class TestTimeout(BaseException):
    """Raised in a test by the alarm; a `BaseException`, so `except Exception` does not eat it."""


def _alarm(signum: int, frame: Any) -> None:
    raise TestTimeout()


def discover() -> list[tuple[str, Callable[[harness.Ui], None]]]:
    tests = []
    for path in sorted(HERE.glob("t[0-9][0-9]_*.py")):
        module = importlib.import_module(path.stem)
        for name, value in vars(module).items():
            if name.startswith("test_") and callable(value):
                tests.append((f"{path.stem}.{name.removeprefix('test_')}", value))
    return tests


def where(error: BaseException) -> str:
    """`file:line: ` of the innermost frame of a test module in the error's traceback, and of
    the helper it was in, if any."""
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if pathlib.Path(frame.filename).parent == HERE
        and pathlib.Path(frame.filename).name != "run.py"
    ]
    tests = [frame for frame in frames if pathlib.Path(frame.filename).name[1:3].isdigit()]
    if not tests:
        return ""
    place = f"{pathlib.Path(tests[-1].filename).name}:{tests[-1].lineno}"
    if frames[-1] is not tests[-1]:
        place += f" (in {pathlib.Path(frames[-1].filename).name}:{frames[-1].lineno})"
    return place + ": "


def keep_evidence(ui: harness.Ui, name: str) -> None:
    """The failed test's page as a screenshot and as HTML, when there is a browser."""
    if ui._driver is None:
        return
    folder = ui.cfg.work / "failures"
    folder.mkdir(parents=True, exist_ok=True)
    signal.alarm(CLOSE_SECONDS)
    try:
        ui.driver.save_screenshot(str(folder / f"{name}.png"))
        (folder / f"{name}.html").write_text(
            f"<!-- {ui.driver.current_url} -->\n{ui.driver.page_source}"
        )
    except BaseException as error:  # noqa: BLE001 - evidence is best effort
        print(f"    (could not keep the page: {error!r})")
    finally:
        signal.alarm(0)


def close(ui: harness.Ui) -> None:
    signal.alarm(CLOSE_SECONDS)
    try:
        ui.close()
    except BaseException:  # noqa: BLE001 - a stuck browser is killed instead
        driver = ui._driver
        if driver is not None:
            driver.service.process.kill()
        ui._driver = None
        ui.close()
    finally:
        signal.alarm(0)


def run_one(name: str, test: Callable[[harness.Ui], None], timeout: int) -> dict[str, Any]:
    ui = harness.Ui(name)
    start = time.monotonic()
    failure = None
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    try:
        test(ui)
    except TestTimeout as error:
        failure = f"{where(error)}did not finish within {timeout} s"
    except harness.Failure as error:
        failure = f"{where(error)}{error}"
    except Exception as error:  # noqa: BLE001 - any error fails the test and is shown
        failure = f"{where(error)}{type(error).__name__}: {error}\n{traceback.format_exc()}"
    finally:
        signal.alarm(0)
    if failure:
        keep_evidence(ui, name)
    close(ui)
    return {
        "name": name,
        "passed": failure is None,
        "seconds": round(time.monotonic() - start, 1),
        "failure": failure,
        "screenshots": ui.shots,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--test", action="append", default=[], metavar="NAME")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    tests = discover()
    if args.test:
        tests = [
            (name, test) for name, test in tests if any(wanted in name for wanted in args.test)
        ]
        if not tests:
            print(f"no UI test matches {args.test}; `--list` shows them", file=sys.stderr)
            return 2
    if args.list:
        for name, _ in tests:
            print(name)
        return 0

    cfg = harness.config()
    log: TextIO = open(cfg.work / "logs" / "run.log", "w", encoding="utf-8")

    def say(line: str) -> None:
        print(line, flush=True)
        log.write(line + "\n")
        log.flush()

    start = time.monotonic()
    results = []
    for name, test in tests:
        result = run_one(name, test, cfg.test_timeout)
        results.append(result)
        verdict = "passed" if result["passed"] else "FAILED"
        say(f"ui: {name} {verdict} in {result['seconds']:.1f}s")
        if result["failure"]:
            say("    " + result["failure"].replace("\n", "\n    "))
        # After each test, so a run killed on timeout still tells what it did.
        (cfg.work / "results.json").write_text(json.dumps({"tests": results}, indent=2))

    failed = [result for result in results if not result["passed"]]
    say("ui: summary")
    for result in results:
        verdict = "passed" if result["passed"] else "FAILED"
        say(f"  {result['name']:<55} {verdict:<6} {result['seconds']:>5.1f}s")
    shots = sum(len(result["screenshots"]) for result in results)
    say(f"ui: {shots} screenshots in {cfg.screenshots}; {time.monotonic() - start:.1f}s in all")
    say(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    log.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
