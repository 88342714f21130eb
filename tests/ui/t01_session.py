"""Signing in and out, by mouse and by keyboard; anonymous visits; outsiders."""

from __future__ import annotations

import urllib.parse

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

import harness
import seed
from harness import Ui, check, check_eq, check_in, check_not_in


def test_sign_in_and_out(ui: Ui) -> None:
    ui.open("/")
    check(ui.link("Sign in", within="header"), "an anonymous page offers 'Sign in' in its header")
    ui.open("/ui/_sign-in")
    ui.shot("sign-in")
    ui.sign_in("alice")
    check_eq(ui.path(), "/ui/alice", "where signing in leads")
    cookie = ui.driver.get_cookie(harness.SESSION_COOKIE)
    check(cookie is not None, "signing in sets the session cookie")
    check_eq(cookie.get("httpOnly"), True, "the session cookie is HttpOnly")
    token = cookie["value"]
    check_not_in(ui.cfg.keys["alice"], token, "the session cookie (it must not hold the API key)")
    # The session opens alice's private project.
    entity, project = ui.cfg.project("private")
    ui.open(f"/ui/{entity}/{project}")
    check_eq(ui.h1(), project, "alice's private project's title, signed in")
    check_in(
        seed.SECRET_TYPE, ui.column("[data-test=types]"), "the private project's types, signed in"
    )

    header = ui.one("header")
    buttons = [
        b for b in header.find_elements(By.CSS_SELECTOR, "button") if b.text.strip() == "Sign out"
    ]
    check(buttons, "the header has a 'Sign out' button")
    buttons[0].click()
    ui.wait_path(lambda path: path == "/", "the home page after signing out")
    check_eq(
        ui.driver.get_cookie(harness.SESSION_COOKIE), None, "the session cookie after signing out"
    )
    check(ui.link("Sign in", within="header"), "the header offers 'Sign in' again")
    check_eq(ui.all("[data-test=signed-in-as]"), [], "who is signed in, after signing out")
    # The old token no longer opens anything: the session ended on the server too.
    reused = harness.send(
        "GET", f"/ui/{entity}/{project}", {"Cookie": f"{harness.SESSION_COOKIE}={token}"}
    )
    check(
        reused.status in (401, 404), f"the ended session's cookie is refused (got {reused.status})"
    )
    check_not_in(seed.SECRET_TYPE, reused.text, "the page for an ended session")


def test_a_wrong_key_is_refused(ui: Ui) -> None:
    ui.open("/ui/_sign-in")
    ui.one("input[name=api_key]").send_keys("cairn-" + "0" * 48)
    ui.one("input[name=api_key]").submit()
    ui.wait_for("[data-test=error]")
    ui.shot("sign-in-refused")
    check(ui.error_text(), "the refusal says why")
    check_eq(
        ui.driver.get_cookie(harness.SESSION_COOKIE), None, "a session cookie after a wrong key"
    )
    check(ui.link("Sign in", within="header"), "still signed out")


def test_sign_in_and_browse_by_keyboard(ui: Ui) -> None:
    """Only TAB, typing and ENTER: sign in, then follow a link to a project."""
    ui.open("/ui/_sign-in")
    actions = ActionChains(ui.driver)
    for _ in range(30):
        active = ui.driver.switch_to.active_element
        if active.get_attribute("name") == "api_key":
            break
        actions.send_keys(Keys.TAB).perform()
    else:
        raise harness.Failure("30 presses of TAB never reached the API key field")
    actions.send_keys(ui.cfg.keys["alice"]).send_keys(Keys.ENTER).perform()
    ui.wait_for("[data-test=signed-in-as]")
    check_eq(ui.one("[data-test=signed-in-as]").text.strip(), "alice", "signed in by keyboard as")
    _, project = ui.cfg.project("public")
    for _ in range(60):
        actions.send_keys(Keys.TAB).perform()
        active = ui.driver.switch_to.active_element
        if active.tag_name == "a" and active.text.strip() == project:
            break
    else:
        raise harness.Failure(
            f"60 presses of TAB never reached the link to {project!r} on {ui.path()}"
        )
    # A focused element must be visibly marked (an outline or a box shadow).
    outline = active.value_of_css_property("outline-style")
    shadow = active.value_of_css_property("box-shadow")
    check(
        outline not in ("", "none") or shadow not in ("", "none"),
        f"the focused link is marked (outline {outline!r}, shadow {shadow!r})",
    )
    ui.shot("keyboard-focus")
    actions.send_keys(Keys.ENTER).perform()
    ui.wait_path(lambda path: path.endswith(f"/{project}"), f"the page of {project} by ENTER")
    check_eq(ui.h1(), project, "the project reached by keyboard")


def test_anonymous_browsing_of_public_and_open_projects(ui: Ui) -> None:
    entity, public = ui.cfg.project("public")
    _, open_ = ui.cfg.project("open")
    _, private = ui.cfg.project("private")
    ui.open("/")
    ui.shot("home-anonymous")
    # The home page's form opens an entity.
    field = ui.one("input[name=entity]")
    field.send_keys(entity)
    field.submit()
    ui.wait_path(lambda path: path == f"/ui/{entity}", f"/ui/{entity} from the home page's form")
    ui.shot("entity-anonymous")
    names = ui.column("[data-test=projects]")
    check_in(public, names, "projects an anonymous visitor sees")
    check_in(open_, names, "projects an anonymous visitor sees")
    check_not_in(private, names, "projects an anonymous visitor sees")
    check_not_in(private, ui.driver.page_source, "the entity page's HTML for an anonymous visitor")
    ui.click_link(public)
    ui.wait_for("[data-test=types]")
    ui.open(f"/ui/{entity}/{open_}")
    check_eq(ui.h1(), open_, "the open project's title, anonymously")
    ui.open(f"/ui/{entity}/{public}/artifacts/{seed.MNIST}/v1")
    check_eq(ui.h1(), f"{seed.MNIST}:v1", "a public version's title, anonymously")
    check_eq(
        ui.one("[data-test=digest]").text.strip(),
        harness.version(entity, public, seed.MNIST, "v1")["digest"],
        "the digest shown",
    )
    posting = [
        form.get_attribute("action")
        for form in ui.all("form")
        if (form.get_attribute("method") or "").lower() == "post"
    ]
    check_eq(posting, [], "forms that change something, shown to an anonymous visitor")


def _not_found_texts(ui: Ui, paths: list[str], who: str) -> list[str]:
    texts = []
    for path in paths:
        ui.open(path)
        check_eq(ui.h1(), "Not found", f"the title of {path} for {who}")
        texts.append(ui.one("main").text)
    return texts


def test_outsiders_see_nothing_of_a_private_project(ui: Ui) -> None:
    entity, private = ui.cfg.project("private")
    secret = harness.version(entity, private, seed.SECRET, "v0")
    base = f"/ui/{entity}/{private}"
    version = f"{base}/artifacts/{seed.SECRET}/v0"
    paths = [
        base,
        f"{base}/types/{seed.SECRET_TYPE}",
        f"{base}/artifacts/{seed.SECRET}",
        version,
        f"{version}/files",
        f"{version}/lineage",
        f"{version}/diff?against=v0",
        f"{version}/file?path={harness.seg(seed.SECRET_FILE)}",
    ]
    # What the project's pages reveal (alice sees it); none of it may show to an outsider,
    # in the text or the HTML, beyond what the address itself says.
    revealed = [seed.SECRET_TYPE, seed.SECRET_DESCRIPTION, seed.SECRET_FILE, secret["digest"]]
    alice = harness.HttpSession()
    alice.sign_in("alice")
    shown_to_alice = "".join(alice.get(path).text for path in paths)
    for word in revealed:
        check_in(word, shown_to_alice, "the private project's pages, for alice")
    revealed.append(secret["id"])
    for who in ["anonymous", "bob"]:
        if who != "anonymous":
            ui.sign_in(who)
        texts = _not_found_texts(ui, paths, who)
        if who == "bob":
            ui.shot("outsider-not-found")
        client = harness.HttpSession()
        if who != "anonymous":
            client.sign_in(who)
        for path in paths:
            check_eq(client.get(path).status, 404, f"the status of {path} for {who}")
        for path, text in zip(paths, texts, strict=True):
            for word in revealed:
                if word not in urllib.parse.unquote(path):
                    check_not_in(word, text, f"what {who} sees at {path}")
        ui.open(base)
        for word in revealed:
            check_not_in(word, ui.driver.page_source, f"the HTML {who} gets at {base}")
        # Not found looks the same whether or not the project exists.
        missing = _not_found_texts(ui, [f"/ui/{entity}/no-such-project"], who)[0]
        check_eq(
            texts[0].replace(private, "P"),
            missing.replace("no-such-project", "P"),
            f"the page {who} gets for a private project and for a missing one",
        )
        ui.open(f"/ui/{entity}")
        check_not_in(
            private, ui.column("[data-test=projects]"), f"the projects of {entity} {who} sees"
        )


def test_outsiders_see_nothing_of_a_team(ui: Ui) -> None:
    team = ui.cfg.team
    members = [
        m["username"] for m in harness.api_ok("GET", f"/api/v1/teams/{team}", "alice")["members"]
    ]
    outsiders = [m for m in members if m != "alice"]
    check(outsiders, f"the team {team} has members besides alice")
    alice = harness.HttpSession()
    alice.sign_in("alice")
    page = alice.get(f"/ui/_teams/{team}").text
    for member in outsiders:
        check_in(f">{member}<", page, "the team settings' page for alice, who is its admin")
    bob = harness.HttpSession()
    bob.sign_in("bob")
    for who, client, status in [("bob", bob, 404), ("anonymous", harness.HttpSession(), 401)]:
        answer = client.get(f"/ui/_teams/{team}")
        check_eq(answer.status, status, f"the team settings' status for {who}")
        check_in('data-test="error"', answer.text, f"the team settings' refusal for {who}")
        for member in outsiders:
            check_not_in(f">{member}<", answer.text, f"the team settings' page for {who}")
    bob_home = bob.get("/").text
    check_not_in(f">{team}<", bob_home, "bob's home page (his entities)")
