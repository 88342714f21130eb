"""Actions: edit a version, delete it, link it; team members, roles and retention; project
visibility; and a member who is not an admin, refused with the domain's words."""

from __future__ import annotations

import json

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

import harness
import seed
from harness import Ui, check, check_eq, check_in, check_not_in, hostile_free


def _version_page(ui: Ui, name: str, selector: str, kind: str = "public") -> str:
    entity, project = ui.cfg.project(kind)
    return f"/ui/{entity}/{project}/artifacts/{name}/{selector}"


def _field(panel, name: str):
    return panel.find_element(By.CSS_SELECTOR, f"[name={name}]")


def _replace(element, text: str) -> None:
    element.clear()
    element.send_keys(text)


def _api_detail(answer: harness.Response) -> str:
    try:
        return answer.json().get("detail", "")
    except ValueError:
        return ""


def test_edit_description_metadata_aliases_tags_and_ttl(ui: Ui) -> None:
    entity, public = ui.cfg.project("public")
    before = harness.version(entity, public, seed.EDITABLE, "v0")
    ui.sign_in("alice")
    ui.open(_version_page(ui, seed.EDITABLE, "v0"))
    ttl_before = ui.one("[data-test=ttl]").text.strip()
    panel = ui.open_panel_of("/edit")
    description = "Edited **in the browser**. <script>alert(3)</script>"
    metadata = {"edited": True, "<i>key</i>": "<b>value</b>", "k": 2}
    _replace(_field(panel, "description"), description)
    _replace(_field(panel, "metadata"), json.dumps(metadata))
    aliases = _field(panel, "aliases")
    aliases.send_keys(", candidate reviewed")
    _replace(_field(panel, "tags"), "ui-test, edited")
    panel.find_element(By.CSS_SELECTOR, "input[name=ttl][value=days]").click()
    _replace(_field(panel, "ttl_days"), "7")
    ui.shot("edit-panel")
    ui.submit(panel, "Save changes")
    ui.shot("edited")
    check_eq(ui.path(), _version_page(ui, seed.EDITABLE, "v0"), "where saving the edit leads")

    after = harness.version(entity, public, seed.EDITABLE, "v0")
    check_eq(after["description"], description, "the description, by the API")
    check_eq(after["metadata"], metadata, "the metadata, by the API")
    check_eq(
        sorted(after["aliases"]),
        sorted({*before["aliases"], "candidate", "reviewed"}),
        "the aliases, by the API",
    )
    check_eq(sorted(after["tags"]), ["edited", "ui-test"], "the tags, by the API")
    check_eq(after["ttl"]["seconds"], 7 * 86400, "the TTL, by the API")
    # The page shows it all, rendered and escaped.
    check_eq(
        [e.text for e in ui.all("[data-test=description] strong")],
        ["in the browser"],
        "the new description's bold text",
    )
    check_in(
        "<script>alert(3)</script>",
        ui.one("[data-test=description]").text,
        "the new description's text",
    )
    check_in("<i>key</i>", ui.one("[data-test=metadata]").text, "the new metadata")
    chips = [chip.text for chip in ui.all("[data-test=version-chips] .chip")]
    for name in ["candidate", "reviewed", "ui-test", "edited"]:
        check_in(name, chips, "the version's chips after the edit")
    ttl_after = ui.one("[data-test=ttl]").text.strip()
    check(
        ttl_after != ttl_before and any(c.isdigit() for c in ttl_after),
        f"the TTL shown: {ttl_before!r} before, {ttl_after!r} after a TTL of 7 days",
    )
    hostile_free(ui, ui.path())
    # The collection's table shows the new chips too.
    ui.open(f"/ui/{entity}/{public}/artifacts/{seed.EDITABLE}")
    headers = [th.text.strip() for th in ui.all("[data-test=versions] thead th")]
    row = ui.one("[data-test=versions] tbody tr").find_elements(By.CSS_SELECTOR, "td")
    for column, names in [("Aliases", after["aliases"]), ("Tags", after["tags"])]:
        chips = [
            chip.text.strip()
            for chip in row[headers.index(column)].find_elements(By.CSS_SELECTOR, ".chip")
        ]
        check_eq(
            sorted(chips), sorted(names), f"the {column.lower()} chips in the collection's table"
        )
    ui.open(_version_page(ui, seed.EDITABLE, "v0"))

    # Metadata that is not JSON is refused with words, and changes nothing.
    panel = ui.open_panel_of("/edit")
    _replace(_field(panel, "metadata"), "{not json")
    _replace(_field(panel, "description"), "should not be saved")
    ui.submit(panel, "Save changes")
    ui.shot("edit-refused")
    check_in("metadata", ui.error_text(), "the refusal of metadata that is not JSON")
    check_eq(
        harness.version(entity, public, seed.EDITABLE, "v0")["description"],
        description,
        "the description after a refused edit",
    )


def test_delete_a_version_with_its_aliases(ui: Ui) -> None:
    entity, public = ui.cfg.project("public")
    doomed = harness.version(entity, public, seed.DELETABLE, "v0")
    check_in(seed.DELETABLE_ALIAS, doomed["aliases"], "the seeded alias of the version to delete")
    ui.sign_in("alice")
    ui.open(_version_page(ui, seed.DELETABLE, "v0"))
    panel = ui.open_panel_of("/delete")
    checkbox = _field(panel, "delete_aliases")
    check(not checkbox.is_selected(), "'also remove its aliases' is off by default")
    ui.submit(panel, "Delete")
    ui.shot("delete-refused")
    refusal = ui.error_text()
    api = harness.api("DELETE", f"/api/v1/artifacts/{doomed['id']}", "alice")
    check_eq(api.status, 409, "the API's answer to deleting a version with aliases")
    check_eq(refusal, _api_detail(api), "the page's refusal (the API's words)")
    harness.version(entity, public, seed.DELETABLE, "v0")  # still there

    ui.open(_version_page(ui, seed.DELETABLE, "v0"))
    panel = ui.open_panel_of("/delete")
    _field(panel, "delete_aliases").click()
    ui.shot("delete-panel")
    ui.submit(panel, "Delete")
    check_eq(ui.path(), f"/ui/{entity}/{public}/artifacts/{seed.DELETABLE}", "where deleting leads")
    ui.shot("deleted")
    check_eq(ui.column("[data-test=versions]"), ["v1"], "the versions left")
    for selector in ["v0", seed.DELETABLE_ALIAS]:
        answer = harness.api(
            "GET",
            f"/api/v1/projects/{entity}/{public}/artifacts/{seed.DELETABLE}:{selector}",
            "alice",
        )
        check_eq(answer.status, 404, f"looking up {seed.DELETABLE}:{selector} after the delete")
    ui.open(_version_page(ui, seed.DELETABLE, "v0"))
    check_eq(ui.h1(), "Not found", "the deleted version's page")


def test_link_a_version_to_a_registry_collection(ui: Ui) -> None:
    entity, public = ui.cfg.project("public")
    registry_entity, registry = ui.cfg.project("registry")
    portfolio = "best-model"
    ui.sign_in("alice")
    ui.open(_version_page(ui, seed.LINKABLE, "v0"))
    panel = ui.open_panel_of("/link")
    _field(panel, "target").send_keys(f"{registry_entity}/{registry}/{portfolio}")
    _field(panel, "aliases").send_keys("production")
    ui.shot("link-panel")
    ui.submit(panel, "Link")
    ui.shot("linked")
    check_eq(
        ui.path(),
        f"/ui/{registry_entity}/{registry}/artifacts/{portfolio}/v0",
        "where linking leads",
    )
    source = harness.version(entity, public, seed.LINKABLE, "v0")
    linked = harness.version(registry_entity, registry, portfolio, "production")
    check_eq(linked["id"], source["id"], "the linked version is the same version")
    check_eq(
        ui.one("[data-test=digest]").text.strip(),
        source["digest"],
        "the digest shown through the link",
    )
    check_in(
        f"{seed.LINKABLE}:v0", ui.one("main").text, "the link's page names where it comes from"
    )
    ui.open(f"/ui/{registry_entity}/{registry}/artifacts/{portfolio}")
    check_eq(ui.column("[data-test=versions]"), ["v0"], "the registry collection's versions")
    check_in(
        "registry",
        " ".join(chip.text for chip in ui.all("main .chip")),
        "the registry collection is marked",
    )
    ui.open(_version_page(ui, seed.LINKABLE, "v0"))
    check_in(f"{portfolio}:v0", ui.one("main").text, "the source version names where it is linked")


def _members(ui: Ui) -> dict[str, str]:
    return {row[0]: row[1] for row in ui.rows("[data-test=members]")}


def _team_form(ui: Ui, action_suffix: str):
    for form in ui.all("main form"):
        if (form.get_attribute("action") or "").endswith(action_suffix):
            return form
    raise harness.Failure(f"{ui.path()}: no form posting to …{action_suffix}")


def test_team_members_and_roles(ui: Ui) -> None:
    team = ui.cfg.team
    ui.sign_in("alice")
    ui.open(f"/ui/{team}")
    ui.click_link("Team settings")
    check_eq(ui.path(), f"/ui/_teams/{team}", "the team settings' address")
    ui.shot("team-settings")
    expected = {
        m["username"]: m["role"]
        for m in harness.api_ok("GET", f"/api/v1/teams/{team}", "alice")["members"]
    }
    check_eq(_members(ui), expected, "the members and roles shown")

    for role in ["member", "admin"]:
        form = _team_form(ui, "/members")
        _replace(form.find_element(By.NAME, "username"), "dave")
        Select(form.find_element(By.NAME, "role")).select_by_value(role)
        ui.submit(form, "Save")
        check_eq(_members(ui).get("dave"), role, f"dave's role shown after saving {role}")
        api = {
            m["username"]: m["role"]
            for m in harness.api_ok("GET", f"/api/v1/teams/{team}", "alice")["members"]
        }
        check_eq(api.get("dave"), role, f"dave's role by the API after saving {role}")
    ui.shot("team-member-added")
    row = [
        r
        for r in ui.all("[data-test=members] tbody tr")
        if r.find_elements(By.CSS_SELECTOR, "td")
        and r.find_element(By.CSS_SELECTOR, "td").text.strip() == "dave"
    ]
    check(row, "a row for dave in the members")
    ui.submit(row[0], "Remove")
    check("dave" not in _members(ui), "dave is gone from the members after 'Remove'")
    api = {
        m["username"] for m in harness.api_ok("GET", f"/api/v1/teams/{team}", "alice")["members"]
    }
    check("dave" not in api, "dave is gone from the team, by the API")


def test_team_retention(ui: Ui) -> None:
    team = ui.cfg.team
    ui.sign_in("alice")
    ui.open(f"/ui/_teams/{team}")
    form = _team_form(ui, "/retention")
    _replace(form.find_element(By.NAME, "default_ttl_days"), "30")
    Select(form.find_element(By.NAME, "ttl_editors")).select_by_value("members")
    ui.submit(form, "Save retention")
    ui.shot("team-retention")
    settings = harness.api_ok("GET", f"/api/v1/teams/{team}/settings", "alice")
    check_eq(settings["default_ttl_seconds"], 30 * 86400, "the default TTL, by the API")
    check_eq(settings["ttl_editors"], "members", "who may set TTLs, by the API")
    form = _team_form(ui, "/retention")
    check_eq(
        float(form.find_element(By.NAME, "default_ttl_days").get_attribute("value")),
        30.0,
        "the default TTL shown after saving",
    )
    check_eq(
        Select(form.find_element(By.NAME, "ttl_editors")).first_selected_option.get_attribute(
            "value"
        ),
        "members",
        "who may set TTLs, shown after saving",
    )


def test_project_visibility(ui: Ui) -> None:
    entity, flip = ui.cfg.project("flip")
    path = f"/ui/{entity}/{flip}"
    check_eq(
        harness.send("GET", path).status, 404, f"{path} for an anonymous visitor while private"
    )
    ui.sign_in("alice")
    for visibility in ["public", "private"]:
        ui.open(path)
        panel = ui.open_panel_of("/visibility")
        Select(_field(panel, "visibility")).select_by_value(visibility)
        if visibility == "public":
            ui.shot("visibility-panel")
        buttons = [b.text.strip() for b in panel.find_elements(By.CSS_SELECTOR, "button")]
        ui.submit(panel, buttons[0] if buttons else "Save")
        check_eq(ui.path(), path, f"where changing the visibility to {visibility} leads")
        check_eq(ui.one("[data-test=visibility]").text.strip(), visibility, "the visibility shown")
        check_eq(
            harness.api_ok("GET", f"/api/v1/projects/{entity}/{flip}", "alice")["visibility"],
            visibility,
            "the visibility, by the API",
        )
        anonymous = harness.send("GET", path).status
        check_eq(
            anonymous,
            200 if visibility == "public" else 404,
            f"{path} for an anonymous visitor once {visibility}",
        )


def test_a_member_who_is_not_admin_is_refused(ui: Ui) -> None:
    team = ui.cfg.team
    team_entity, team_project = ui.cfg.project("team")
    settings_before = harness.api_ok("GET", f"/api/v1/teams/{team}/settings", "alice")
    members_before = harness.api_ok("GET", f"/api/v1/teams/{team}", "alice")["members"]
    ui.sign_in("carol")

    # Retention.
    ui.open(f"/ui/_teams/{team}")
    form = _team_form(ui, "/retention")
    _replace(form.find_element(By.NAME, "default_ttl_days"), "1")
    ui.submit(form, "Save retention")
    ui.shot("refusal-team-settings")
    refusal = ui.error_text()
    api = harness.api(
        "PATCH", f"/api/v1/teams/{team}/settings", "carol", {"default_ttl": {"seconds": 86400}}
    )
    check_eq(api.status, 403, "the API's answer to carol changing the team's retention")
    check_eq(
        refusal, _api_detail(api), "the page's refusal of the retention change (the API's words)"
    )
    check_eq(
        harness.api_ok("GET", f"/api/v1/teams/{team}/settings", "alice"),
        settings_before,
        "the team's retention after the refusal",
    )

    # Members.
    ui.open(f"/ui/_teams/{team}")
    form = _team_form(ui, "/members")
    _replace(form.find_element(By.NAME, "username"), "bob")
    ui.submit(form, "Save")
    check(ui.error_text(), "carol adding a member is refused with words")
    check_eq(
        harness.api_ok("GET", f"/api/v1/teams/{team}", "alice")["members"],
        members_before,
        "the team's members after the refusal",
    )

    # Visibility of the team's project.
    ui.open(f"/ui/{team_entity}/{team_project}")
    panel = ui.open_panel_of("/visibility")
    Select(_field(panel, "visibility")).select_by_value("public")
    buttons = [b.text.strip() for b in panel.find_elements(By.CSS_SELECTOR, "button")]
    ui.submit(panel, buttons[0] if buttons else "Save")
    ui.shot("refusal-visibility")
    refusal = ui.error_text()
    api = harness.api(
        "PUT", f"/api/v1/projects/{team_entity}/{team_project}", "carol", {"visibility": "public"}
    )
    check_eq(api.status, 403, "the API's answer to carol changing the project's visibility")
    check_eq(
        refusal, _api_detail(api), "the page's refusal of the visibility change (the API's words)"
    )
    check_eq(
        harness.api_ok("GET", f"/api/v1/projects/{team_entity}/{team_project}", "alice")[
            "visibility"
        ],
        "private",
        "the project's visibility after the refusal",
    )


def test_api_keys_are_created_once_and_revoked(ui: Ui) -> None:
    ui.sign_in("bob")
    ui.open("/ui/_keys")
    check_eq(ui.h1(), "Your API keys", "the keys page's title")
    check_not_in(harness.config().keys["bob"], ui.body_text(), "the keys page")
    form = ui.one("form[action='/ui/_keys']")
    _replace(form.find_element(By.NAME, "name"), "ci <runner>")
    _replace(form.find_element(By.NAME, "expires_days"), "3")
    ui.submit(form, "Create key")
    ui.shot("api-key-created")
    secret = ui.one("[data-test=new-key]").text.strip()
    check(secret.startswith("cairn-"), f"a new key is shown: {secret!r}")
    works = harness.send("GET", "/api/v1/viewer", {"Authorization": f"Bearer {secret}"})
    check_eq(works.status, 200, "the new key, on the API")
    check_eq(works.json()["user"]["username"], "bob", "whose the new key is")

    # Shown once: the listing has its name, escaped, and never the secret.
    ui.open("/ui/_keys")
    check_not_in(secret, ui.driver.page_source, "the keys page after creating one")
    rows = [row for row in ui.rows("[data-test=keys]") if "ci <runner>" in row]
    check_eq(len(rows), 1, "rows for the new key")
    ui.shot("api-keys")

    # Revoked from its row: the API refuses it from then on.
    for row in ui.all("[data-test=keys] tbody tr"):
        if "ci <runner>" in row.text:
            ui.submit(row, "Revoke")
            break
    refused = harness.send("GET", "/api/v1/viewer", {"Authorization": f"Bearer {secret}"})
    check_eq(refused.status, 401, "the revoked key, on the API")
    check_in("revoked", refused.text, "the API's words for the revoked key")
    statuses = [row for row in ui.rows("[data-test=keys]") if "ci <runner>" in row]
    check(statuses and "revoked" in statuses[0], f"the row says revoked: {statuses}")
