"""Shared helpers of the web UI tests (`cargo xtask ui`).

xtask starts a seeded `cairn server` and runs `seed.py` (the artifacts), then `run.py`, which
calls every `test_*` function of the `t*.py` modules with a fresh `Ui`:

    def test_something(ui: harness.Ui) -> None:
        ui.open("/ui/alice")                     # the browser, at desktop width
        ui.shot("entity")                        # target/ui-screenshots/entity.png
        harness.check_eq(ui.h1(), "alice", "the entity page's title")

What xtask passes in (see `xtask/src/ui.rs`):

* `CAIRN_UI_BASE_URL`: the server, `http://127.0.0.1:PORT`.
* `CAIRN_UI_ADMIN_KEY`, `CAIRN_UI_{ALICE,BOB,CAROL,DAVE}_KEY`: API keys. alice owns everything;
  bob is an outsider; carol is a member (not an admin) of alice's team; dave is in no team.
* `CAIRN_UI_TEAM`: alice's team.
* `CAIRN_UI_{PRIVATE,PUBLIC,OPEN,FLIP,TEAM,REGISTRY}_PROJECT`: projects as `entity/project`:
  alice's with each visibility, alice's private one whose visibility a test changes, and two
  private ones of the team.
* `CAIRN_UI_CAIRN_BIN`: the `cairn` binary; `CAIRN_UI_WORK`: the run's directory (kept);
  `CAIRN_UI_SCREENSHOTS`: where screenshots go.
* `CAIRN_UI_CHROMIUM`, `CAIRN_UI_CHROMEDRIVER`: Debian's browser and its WebDriver, given to
  Selenium explicitly (with `SE_OFFLINE=true`) so that Selenium Manager stays off the network.

The browser is driven through the pages only: no script of the test runs in a page except to
measure it (its size, for full-page screenshots and the phone-width check). Requests the browser
cannot make (a POST without a CSRF token, a cross-site POST, reading headers) go through
`HttpSession`, a small cookie-keeping client over `http.client`.
"""

from __future__ import annotations

import html.parser
import http.client
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import time
import urllib.parse
from typing import Any, Callable

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

# How long to wait for a page element that should appear.
WAIT_SECONDS = 10

# The widths screenshots are taken at.
DESKTOP = (1280, 900)
PHONE = (390, 844)

# Chromium's flags: headless, no sandbox (root in CI), nothing that talks to the network.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

# The session cookie's name (what signing in sets).
SESSION_COOKIE = "cairn_session"


class Failure(AssertionError):
    """A check failed; the message says what was expected and what was seen."""


def check(condition: Any, message: str) -> None:
    if not condition:
        raise Failure(message)


def check_eq(actual: Any, expected: Any, what: str) -> None:
    if actual != expected:
        raise Failure(f"{what}: expected {expected!r}, got {actual!r}")


def check_in(needle: str, haystack: str, what: str) -> None:
    if needle not in haystack:
        shown = haystack if len(haystack) < 600 else haystack[:600] + "…"
        raise Failure(f"{what}: expected to contain {needle!r}, got {shown!r}")


def check_not_in(needle: str, haystack: str, what: str) -> None:
    if needle in haystack:
        at = haystack.index(needle)
        raise Failure(
            f"{what}: must not contain {needle!r}, found at …{haystack[max(0, at - 80) : at + 80]!r}…"
        )


def _require(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise Failure(f"{name} is not set: run the UI tests through `cargo xtask ui`")
    return value


class Config:
    """The seeded server and what xtask passed in."""

    def __init__(self) -> None:
        self.base_url = _require("CAIRN_UI_BASE_URL").rstrip("/")
        parsed = urllib.parse.urlsplit(self.base_url)
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or 80
        self.keys = {
            user: _require(f"CAIRN_UI_{user.upper()}_KEY")
            for user in ["admin", "alice", "bob", "carol", "dave"]
        }
        self.team = _require("CAIRN_UI_TEAM")
        self.projects = {
            kind: _require(f"CAIRN_UI_{kind.upper()}_PROJECT")
            for kind in ["private", "public", "open", "flip", "team", "registry"]
        }
        self.cairn_bin = _require("CAIRN_UI_CAIRN_BIN")
        self.work = pathlib.Path(_require("CAIRN_UI_WORK"))
        self.screenshots = pathlib.Path(_require("CAIRN_UI_SCREENSHOTS"))
        self.chromium = _require("CAIRN_UI_CHROMIUM")
        self.chromedriver = _require("CAIRN_UI_CHROMEDRIVER")
        self.test_timeout = int(os.environ.get("CAIRN_UI_TEST_TIMEOUT") or "60")

    def project(self, kind: str) -> tuple[str, str]:
        entity, project = self.projects[kind].split("/")
        return entity, project


_CONFIG: Config | None = None


def config() -> Config:
    global _CONFIG
    if _CONFIG is None:
        _CONFIG = Config()
    return _CONFIG


def seg(text: str) -> str:
    """One URL path segment or query value, percent-encoded as the UI does."""
    return urllib.parse.quote(text, safe="-._~")


# --- HTTP -----------------------------------------------------------------------------------


class Response:
    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


def send(
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> Response:
    """One request to the server; redirects are not followed."""
    cfg = config()
    connection = http.client.HTTPConnection(cfg.host, cfg.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        return Response(answer.status, answer.getheaders(), answer.read())
    finally:
        connection.close()


def api(method: str, path: str, user: str, body: Any = None) -> Response:
    """A native API request as `user` (a key of `Config.keys`) or anonymous (`None`)."""
    headers = {"Accept": "application/json"}
    if user is not None:
        headers["Authorization"] = f"Bearer {config().keys[user]}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    return send(method, path, headers, data)


def api_ok(method: str, path: str, user: str, body: Any = None) -> Any:
    answer = api(method, path, user, body)
    if not 200 <= answer.status < 300:
        raise Failure(f"`{method} {path}` as {user} answered {answer.status}: {answer.text[:500]}")
    return answer.json() if answer.body else None


def version(entity: str, project: str, name: str, selector: str, user: str = "alice") -> dict:
    """A version as the native API answers it."""
    return api_ok(
        "GET",
        f"/api/v1/projects/{entity}/{project}/artifacts/{seg(name)}:{seg(selector)}",
        user,
    )


class _Forms(html.parser.HTMLParser):
    """The forms of a page: each one's action and its hidden fields."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.forms.append(
                {
                    "action": values.get("action", ""),
                    "method": values.get("method", "get"),
                    "hidden": {},
                }
            )
        elif tag == "input" and values.get("type") == "hidden" and self.forms:
            self.forms[-1]["hidden"][values.get("name", "")] = values.get("value", "")


class _Cells(html.parser.HTMLParser):
    """The texts of the `td` cells of a table's body rows."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._body = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tbody":
            self._body = True
        elif tag == "tr" and self._body:
            self.rows.append([])
        elif tag == "td" and self._body and self.rows:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._body = False
        elif tag == "td" and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def forms_of(page: str) -> list[dict[str, Any]]:
    parser = _Forms()
    parser.feed(page)
    return parser.forms


class HttpSession:
    """A browser-like client: signs in through the sign-in form and keeps the cookies."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}

    def _remember(self, answer: Response) -> None:
        for line in answer.all("Set-Cookie"):
            pair = line.split(";", 1)[0]
            name, _, value = pair.partition("=")
            if "Max-Age=0" in line or not value:
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value.strip()

    def request(
        self,
        method: str,
        path: str,
        fields: dict[str, str] | None = None,
        headers: dict[str, str | None] | None = None,
    ) -> Response:
        # What a browser says of a form posted from this site's own page; `headers` may
        # change it, or drop it with `None`.
        sent: dict[str, str | None] = {"Sec-Fetch-Site": "same-origin"} if method == "POST" else {}
        sent.update(headers or {})
        sent = {key: value for key, value in sent.items() if value is not None}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{key}={value}" for key, value in self.cookies.items())
        body = None
        if fields is not None:
            body = urllib.parse.urlencode(fields).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        answer = send(method, path, sent, body)
        self._remember(answer)
        return answer

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(
        self, path: str, fields: dict[str, str], headers: dict[str, str | None] | None = None
    ) -> Response:
        return self.request("POST", path, fields, headers)

    def sign_in(self, user: str) -> None:
        page = self.get("/ui/_sign-in")
        check_eq(page.status, 200, "GET /ui/_sign-in")
        form = next(
            (form for form in forms_of(page.text) if form["action"] == "/ui/_sign-in"), None
        )
        check(form is not None, "the sign-in page has a form posting to /ui/_sign-in")
        fields = dict(form["hidden"])
        fields["api_key"] = config().keys[user]
        answer = self.post("/ui/_sign-in", fields)
        check_eq(
            answer.status, 303, f"signing {user} in through the form (answer {answer.text[:300]!r})"
        )
        check(
            SESSION_COOKIE in self.cookies, f"signing {user} in sets the `{SESSION_COOKIE}` cookie"
        )

    def form_on(self, page_path: str, action: str) -> dict[str, str]:
        """The hidden fields (the CSRF token) of the form posting to `action` on a page."""
        page = self.get(page_path)
        check_eq(page.status, 200, f"GET {page_path}")
        for form in forms_of(page.text):
            if form["action"] == action:
                return dict(form["hidden"])
        raise Failure(
            f"{page_path} has no form posting to {action}; its forms: {[f['action'] for f in forms_of(page.text)]}"
        )


# --- the browser ----------------------------------------------------------------------------


def new_driver(profile: pathlib.Path) -> webdriver.Chrome:
    """A headless Chromium with the fresh profile directory `profile`."""
    cfg = config()
    options = webdriver.ChromeOptions()
    options.binary_location = cfg.chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={DESKTOP[0]},{DESKTOP[1]}")
    # Alerts stay open for the test to see (it checks that none ever opens).
    options.set_capability("unhandledPromptBehavior", "ignore")
    service = Service(cfg.chromedriver, log_output=str(cfg.work / "logs" / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    return driver


class Ui:
    """One test's browser (started on first use) and its screenshots."""

    def __init__(self, test_name: str) -> None:
        self.cfg = config()
        self.test_name = test_name
        self._driver: webdriver.Chrome | None = None
        self._profile: pathlib.Path | None = None
        self.shots: list[str] = []

    @property
    def driver(self) -> webdriver.Chrome:
        if self._driver is None:
            profiles = self.cfg.work / "profiles"
            profiles.mkdir(parents=True, exist_ok=True)
            self._profile = pathlib.Path(tempfile.mkdtemp(prefix="profile-", dir=profiles))
            self._driver = new_driver(self._profile)
        return self._driver

    def close(self) -> None:
        """Quits the browser and removes its profile."""
        try:
            if self._driver is not None:
                self._driver.quit()
        finally:
            self._driver = None
            if self._profile is not None:
                shutil.rmtree(self._profile, ignore_errors=True)

    # Navigation and reading.

    def url(self, path: str) -> str:
        return self.cfg.base_url + path

    def open(self, path: str) -> None:
        self.driver.get(self.url(path))
        self.no_alert()

    def path(self) -> str:
        """The current page's path and query."""
        parts = urllib.parse.urlsplit(self.driver.current_url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def h1(self) -> str:
        return self.one("h1").text.strip()

    def one(self, css: str) -> WebElement:
        found = self.driver.find_elements(By.CSS_SELECTOR, css)
        if not found:
            raise Failure(
                f"{self.path()}: no element matches `{css}` (title {self.driver.title!r})"
            )
        return found[0]

    def all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def wait_for(self, css: str) -> WebElement:
        try:
            WebDriverWait(self.driver, WAIT_SECONDS).until(
                lambda d: d.find_elements(By.CSS_SELECTOR, css)
            )
        except Exception as error:
            raise Failure(
                f"{self.path()}: `{css}` did not appear within {WAIT_SECONDS} s (title {self.driver.title!r})"
            ) from error
        return self.one(css)

    def wait_path(self, predicate: Callable[[str], bool], what: str) -> None:
        try:
            WebDriverWait(self.driver, WAIT_SECONDS).until(lambda d: predicate(self.path()))
        except Exception as error:
            raise Failure(
                f"expected to reach {what}; the browser is at {self.path()} (title {self.driver.title!r})"
            ) from error

    def link(self, text: str, within: str = "main") -> WebElement:
        """The link of `within` whose text is exactly `text`."""
        for anchor in self.all(f"{within} a"):
            if anchor.text.strip() == text:
                return anchor
        shown = [anchor.text.strip() for anchor in self.all(f"{within} a")]
        raise Failure(f"{self.path()}: no link {text!r} in `{within}`; the links: {shown[:40]}")

    def click_link(self, text: str, within: str = "main") -> None:
        before = self.driver.current_url
        self.link(text, within).click()
        self.wait_path(lambda _: self.driver.current_url != before, f"the page of link {text!r}")
        self.no_alert()

    def rows(self, table_css: str) -> list[list[str]]:
        """The cell texts of a table's body rows (whitespace collapsed), read from its HTML in
        one request rather than one per cell."""
        parser = _Cells()
        parser.feed(self.one(table_css).get_attribute("outerHTML") or "")
        return parser.rows

    def column(self, table_css: str, index: int = 0) -> list[str]:
        return [row[index] for row in self.rows(table_css) if len(row) > index]

    def body_text(self) -> str:
        return self.one("body").text

    def error_text(self) -> str:
        return self.one("[data-test=error]").text.strip()

    def open_panel(self, summary_text: str) -> WebElement:
        """Opens the `<details>` panel whose summary reads `summary_text`; answers the panel."""
        for panel in self.all("details"):
            summary = panel.find_elements(By.CSS_SELECTOR, "summary")
            if summary and summary[0].text.strip() == summary_text:
                if panel.get_attribute("open") is None:
                    summary[0].click()
                check(panel.get_attribute("open") is not None, f"the panel {summary_text!r} opens")
                return panel
        shown = [s.text.strip() for s in self.all("details > summary")]
        raise Failure(f"{self.path()}: no panel {summary_text!r}; the panels: {shown}")

    def open_panel_of(self, action_suffix: str) -> WebElement:
        """Opens the `<details>` panel holding the form that posts to `...action_suffix`, by
        clicking its summary; answers the panel."""
        for panel in self.all("details"):
            forms = panel.find_elements(By.CSS_SELECTOR, "form")
            if any((form.get_attribute("action") or "").endswith(action_suffix) for form in forms):
                summary = panel.find_element(By.CSS_SELECTOR, "summary")
                check(
                    summary.is_displayed(), f"the summary of the panel of {action_suffix!r} shows"
                )
                summary.click()
                check(
                    panel.get_attribute("open") is not None, f"the panel of {action_suffix!r} opens"
                )
                return panel
        shown = [f.get_attribute("action") for f in self.all("details form")]
        raise Failure(
            f"{self.path()}: no panel with a form posting to …{action_suffix}; the panels' forms: {shown}"
        )

    def submit(self, panel: WebElement, button_text: str) -> None:
        """Clicks the button reading `button_text` in `panel` and waits for the next page."""
        old = self.one("html")
        for button in panel.find_elements(By.CSS_SELECTOR, "button"):
            if button.text.strip() == button_text:
                button.click()
                WebDriverWait(self.driver, WAIT_SECONDS).until(lambda d: _stale(old))
                self.no_alert()
                return
        shown = [b.text.strip() for b in panel.find_elements(By.CSS_SELECTOR, "button")]
        raise Failure(
            f"{self.path()}: no button {button_text!r} in the panel; its buttons: {shown}"
        )

    def no_alert(self) -> None:
        try:
            alert = self.driver.switch_to.alert
            text = alert.text
        except NoAlertPresentException:
            return
        alert.dismiss()
        raise Failure(f"{self.path()}: a JavaScript alert opened ({text!r}): a page ran a script")

    def measure(self, expression: str) -> Any:
        """Evaluates `expression` in the page (to measure it only; WebDriver's own scripts are
        not subject to the page's Content-Security-Policy)."""
        return self.driver.execute_script(f"return {expression};")

    # Screenshots.

    def resize(self, size: tuple[int, int]) -> None:
        self.driver.set_window_size(*size)

    def shot(self, name: str, size: tuple[int, int] = DESKTOP) -> None:
        """Saves the whole page at `size`'s width as `<screenshots>/NAME.png`."""
        width, height = size
        self.resize((width, height))
        try:
            full = int(self.measure("document.documentElement.scrollHeight"))
        except Exception:
            full = height
        self.resize((width, max(height, min(full + 120, 4000))))
        self.driver.execute_script("window.scrollTo(0, 0);")
        path = self.cfg.screenshots / f"{name}.png"
        check(self.driver.save_screenshot(str(path)), f"saving the screenshot {path}")
        self.shots.append(name)
        self.resize((width, height))

    def sign_in(self, user: str) -> None:
        """Signs `user` in through the sign-in form, by mouse."""
        self.open("/ui/_sign-in")
        field = self.one("input[name=api_key]")
        field.send_keys(self.cfg.keys[user])
        form = field.find_element(By.XPATH, "ancestor::form")
        for button in form.find_elements(By.CSS_SELECTOR, "button"):
            if button.text.strip() == "Sign in":
                button.click()
                break
        else:
            raise Failure("the sign-in form has no button 'Sign in'")
        self.wait_for("[data-test=signed-in-as]")
        check_eq(
            self.one("[data-test=signed-in-as]").text.strip(),
            user,
            "who the header says is signed in",
        )

    def session_token(self) -> str | None:
        cookie = self.driver.get_cookie(SESSION_COOKIE)
        return cookie["value"] if cookie else None


def _stale(element: WebElement) -> bool:
    try:
        element.is_enabled()
        return False
    except Exception:
        return True


def hostile_free(ui: Ui, where: str) -> None:
    """No element a hostile string could have made exists on the page, and no alert is open."""
    ui.no_alert()
    check_eq(len(ui.all("script")), 0, f"{where}: <script> elements on the page")
    check_eq(
        len(ui.all("[onerror], [onload], [onclick]")), 0, f"{where}: elements with event handlers"
    )
    check_eq(len(ui.all("img[src='x']")), 0, f"{where}: <img src=x> elements")
    check_eq(len(ui.all("iframe, object, embed")), 0, f"{where}: frames and plugins")
    bad = [
        a.get_attribute("href")
        for a in ui.all("a[href]")
        if (a.get_attribute("href") or "")
        .strip()
        .lower()
        .startswith(("javascript:", "data:", "vbscript:"))
    ]
    check_eq(bad, [], f"{where}: links with a script or data scheme")


def cairn(
    *args: str, user: str = "alice", cwd: pathlib.Path | None = None, timeout: int = 60
) -> str:
    """Runs the `cairn` CLI as `user` against the server; answers its standard output."""
    cfg = config()
    env = dict(os.environ)
    env["CAIRN_BASE_URL"] = cfg.base_url
    env["CAIRN_API_KEY"] = cfg.keys[user]
    env["CAIRN_CONFIG_DIR"] = str(cfg.work / "cli-config")
    env["CAIRN_CACHE_DIR"] = str(cfg.work / "cli-cache")
    done = subprocess.run(
        [cfg.cairn_bin, *args],
        cwd=cwd or cfg.work,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise Failure(
            f"`cairn {' '.join(args)}` failed ({done.returncode}): {done.stderr.strip()[-800:]}"
        )
    return done.stdout


def elapsed(start: float) -> str:
    return f"{time.monotonic() - start:.1f}s"
