"""Security: a Content-Security-Policy that forbids scripts on every page; forms refused without
the session's CSRF token, with a wrong one, or from another site, changing nothing."""

from __future__ import annotations

import html
import urllib.parse

from selenium.webdriver.common.by import By

import harness
import seed
from harness import Ui, check, check_eq, check_in


def _directives(policy: str) -> dict[str, list[str]]:
    directives = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            directives.setdefault(words[0].lower(), words[1:])
    return directives


def forbids_scripts(policy: str) -> bool:
    """Whether a policy lets no script run: `script-src 'none'`, or no `script-src` (nor
    `script-src-elem`) and `default-src 'none'`."""
    directives = _directives(policy)
    for name in ["script-src", "script-src-elem"]:
        if name in directives:
            return directives[name] == ["'none'"]
    return directives.get("default-src") == ["'none'"]


def test_every_page_has_a_content_security_policy(ui: Ui) -> None:
    check(
        forbids_scripts("default-src 'none'; style-src 'self'"),
        "the policy check accepts a policy without scripts",
    )
    check(
        not forbids_scripts("default-src 'self'"),
        "the policy check refuses a policy allowing this site's scripts",
    )
    check(
        not forbids_scripts("default-src 'none'; script-src 'unsafe-inline'"),
        "the policy check refuses inline scripts",
    )
    entity, public = ui.cfg.project("public")
    _, private = ui.cfg.project("private")
    version = f"/ui/{entity}/{public}/artifacts/{seed.MNIST}/v1"
    pages = [
        ("/", 200),
        ("/ui/_sign-in", 200),
        (f"/ui/{entity}", 200),
        (f"/ui/{entity}/{public}", 200),
        (f"/ui/{entity}/{public}/types/dataset", 200),
        (f"/ui/{entity}/{public}/artifacts/{seed.MNIST}", 200),
        (version, 200),
        (f"{version}/files", 200),
        (f"{version}/diff?against=v0", 200),
        (f"{version}/lineage", 200),
        (f"/ui/{entity}/{public}/runs/{seed.TRAIN_RUNS[0]}", 200),
        (f"/ui/_teams/{ui.cfg.team}", 200),
        (f"/ui/{entity}/{private}", 200),
        (f"/ui/{entity}/no-such-project", 404),
        (f"{version}/file?path={harness.seg('README.md')}", 200),
    ]
    session = harness.HttpSession()
    session.sign_in("alice")
    anonymous = harness.HttpSession()
    for path, status in pages:
        for who, client in [("alice", session), ("anonymous", anonymous)]:
            answer = client.get(path)
            if who == "alice":
                check_eq(answer.status, status, f"the status of {path} for alice")
            policy = answer.header("Content-Security-Policy")
            check(policy, f"{path} ({who}, status {answer.status}) has a Content-Security-Policy")
            check(
                forbids_scripts(policy), f"the policy of {path} ({who}) forbids scripts: {policy!r}"
            )
            if (answer.header("Content-Type") or "").startswith("text/html"):
                check(
                    "frame-ancestors" in _directives(policy),
                    f"the policy of {path} ({who}) forbids framing: {policy!r}",
                )


def _edit_fields(description: str) -> dict[str, str]:
    return {
        "description": description,
        "metadata": "{}",
        "aliases": "latest",
        "tags": "",
        "ttl": "keep",
        "ttl_days": "",
    }


def _description(ui: Ui) -> str:
    entity, public = ui.cfg.project("public")
    return harness.version(entity, public, seed.CSRF_TARGET, "v0")["description"]


def _state(ui: Ui) -> dict:
    """Everything the forged forms below try to change."""
    entity, public = ui.cfg.project("public")
    flip_entity, flip = ui.cfg.project("flip")
    return {
        "version": harness.version(entity, public, seed.CSRF_TARGET, "v0"),
        "visibility": harness.api_ok("GET", f"/api/v1/projects/{flip_entity}/{flip}", "alice")[
            "visibility"
        ],
        "team": harness.api_ok("GET", f"/api/v1/teams/{ui.cfg.team}", "alice"),
        "settings": harness.api_ok("GET", f"/api/v1/teams/{ui.cfg.team}/settings", "alice"),
        "links": harness.api_ok(
            "GET",
            f"/api/v1/artifacts/{harness.version(entity, public, seed.CSRF_TARGET, 'v0')['id']}/links",
            "alice",
        ),
    }


def _forged(ui: Ui) -> list[tuple[str, dict[str, str]]]:
    """Every kind of form the UI posts, with fields that would change something."""
    entity, public = ui.cfg.project("public")
    flip_entity, flip = ui.cfg.project("flip")
    registry_entity, registry = ui.cfg.project("registry")
    version = f"/ui/{entity}/{public}/artifacts/{seed.CSRF_TARGET}/v0"
    team = f"/ui/_teams/{ui.cfg.team}"
    return [
        (f"{version}/edit", _edit_fields("forged")),
        (f"{version}/link", {"target": f"{registry_entity}/{registry}/forged", "aliases": ""}),
        (f"{version}/delete", {"delete_aliases": "true"}),
        (f"/ui/{flip_entity}/{flip}/visibility", {"visibility": "open"}),
        (f"{team}/members", {"username": "bob", "role": "admin"}),
        (f"{team}/members/remove", {"username": "carol"}),
        (f"{team}/retention", {"default_ttl_days": "1", "ttl_editors": "members"}),
    ]


def test_posts_without_the_csrf_token_or_with_a_wrong_one_are_refused(ui: Ui) -> None:
    alice = harness.HttpSession()
    alice.sign_in("alice")
    bob = harness.HttpSession()
    bob.sign_in("bob")
    entity, public = ui.cfg.project("public")
    page = f"/ui/{entity}/{public}/artifacts/{seed.CSRF_TARGET}/v0"
    token = alice.form_on(page, f"{page}/edit")["csrf"]
    check(token, "the edit form carries a CSRF token")
    bobs = bob.form_on(page, "/ui/_sign-out")["csrf"]
    check(bobs and bobs != token, "two sessions get different CSRF tokens")
    before = _state(ui)
    for action, fields in _forged(ui):
        for what, csrf in [
            ("no token", None),
            ("an empty token", ""),
            ("a wrong token", token[::-1]),
            ("another session's token", bobs),
        ]:
            sent = dict(fields)
            if csrf is not None:
                sent["csrf"] = csrf
            answer = alice.post(action, sent)
            check_eq(answer.status, 403, f"POST {action} with {what}")
            check_in(
                'data-test="error"', answer.text, f"the refusal page of POST {action} with {what}"
            )
    check_eq(_state(ui), before, "what the refused forms tried to change")
    # Signing out needs the token too.
    answer = alice.post("/ui/_sign-out", {})
    check_eq(answer.status, 403, "POST /ui/_sign-out without a token")
    check_eq(alice.get(f"/ui/{entity}").status, 200, "alice's session after a refused sign-out")
    check_in(
        'data-test="signed-in-as"', alice.get(f"/ui/{entity}").text, "alice is still signed in"
    )
    # With the token, the same form works: the refusals above were the token's doing.
    answer = alice.post(f"{page}/edit", {**_edit_fields("changed with the token"), "csrf": token})
    check_eq(answer.status, 303, f"POST {page}/edit with the session's token")
    check_eq(
        _description(ui), "changed with the token", "the description after a form with the token"
    )


def test_cross_site_posts_are_refused(ui: Ui) -> None:
    entity, public = ui.cfg.project("public")
    page = f"/ui/{entity}/{public}/artifacts/{seed.CSRF_TARGET}/v0"
    alice = harness.HttpSession()
    alice.sign_in("alice")
    token = alice.form_on(page, f"{page}/edit")["csrf"]
    before = _state(ui)
    evil = "http://evil.example"
    for what, headers in [
        ("Sec-Fetch-Site: cross-site", {"Sec-Fetch-Site": "cross-site"}),
        ("an Origin of another site", {"Sec-Fetch-Site": None, "Origin": evil}),
        ("both", {"Sec-Fetch-Site": "cross-site", "Origin": evil}),
    ]:
        answer = alice.post(f"{page}/edit", {**_edit_fields("cross-site"), "csrf": token}, headers)
        check_eq(answer.status, 403, f"a POST with the right token and {what}")
        check_in('data-test="error"', answer.text, f"the refusal page of a POST with {what}")
    # Nobody can be signed in from another site either.
    signer = harness.HttpSession()
    fields = signer.form_on("/ui/_sign-in", "/ui/_sign-in")
    answer = signer.post(
        "/ui/_sign-in", {**fields, "api_key": ui.cfg.keys["bob"]}, {"Sec-Fetch-Site": "cross-site"}
    )
    check_eq(answer.status, 403, "a cross-site sign-in")
    check(harness.SESSION_COOKIE not in signer.cookies, "a cross-site sign-in sets no session")

    # A real browser, signed in as alice, submitting a page of another origin: the form
    # carries alice's real token, yet changes nothing.
    ui.sign_in("alice")
    action = ui.url(f"{page}/edit")
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(key)}" value="{html.escape(value)}">'
        for key, value in {**_edit_fields("changed from another site"), "csrf": token}.items()
    )
    ui.driver.get(
        "data:text/html,"
        + urllib.parse.quote(
            f'<form method="post" action="{html.escape(action)}">{inputs}<button id="go">go</button></form>'
        )
    )
    ui.driver.find_element(By.ID, "go").click()
    ui.wait_path(lambda path: path.endswith("/edit"), "the forged form's answer")
    ui.shot("cross-site-refused")
    check(ui.all("[data-test=error]"), "the forged form's answer is a refusal")
    check_eq(_state(ui), before, "what the cross-site forms tried to change")
