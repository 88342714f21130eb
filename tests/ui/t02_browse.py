"""Browsing: home → entity → project → type → collection → versions, paginated."""

from __future__ import annotations

from selenium.webdriver.common.by import By

import harness
import seed
from harness import Ui, check, check_eq, check_in


def test_home_entity_project_type_collection(ui: Ui) -> None:
    cfg = ui.cfg
    entity, public = cfg.project("public")
    ui.sign_in("alice")
    ui.open("/")
    ui.shot("home")
    entities = [a.text.strip() for a in ui.all("[data-test=entities] a")]
    check_eq(sorted(entities), sorted(["alice", cfg.team]), "the entities on alice's home page")
    ui.click_link(entity)
    check_eq(ui.path(), f"/ui/{entity}", "the entity page's path")
    ui.shot("entity")

    # Projects, with their visibility as chips, as the API has them.
    listed = harness.api_ok("GET", f"/api/v1/entities/{entity}/projects", "alice")["projects"]
    rows = ui.rows("[data-test=projects]")
    shown = {row[0]: row[1] for row in rows}
    check_eq(shown, {p["name"]: p["visibility"] for p in listed}, "projects and visibilities shown")
    for row in ui.one("[data-test=projects]").find_elements(By.CSS_SELECTOR, "tbody tr"):
        chips = row.find_elements(By.CSS_SELECTOR, ".chip")
        check(chips, f"the visibility of {row.text!r} is a chip")

    ui.click_link(public)
    ui.wait_for("[data-test=types]")
    ui.shot("project")
    check_eq(ui.one("[data-test=visibility]").text.strip(), "public", "the project's visibility")
    types = harness.api_ok("GET", f"/api/v1/projects/{entity}/{public}/types", "alice")["types"]
    rows = ui.rows("[data-test=types]")
    check_eq(
        sorted((row[0], row[1]) for row in rows),
        sorted((t["name"], str(t["collection_count"])) for t in types),
        "types and their collection counts",
    )

    ui.click_link("dataset")
    ui.wait_for("[data-test=collections]")
    check_eq(ui.path(), f"/ui/{entity}/{public}/types/dataset", "the type page's path")
    ui.shot("type")
    collections = harness.api_ok(
        "GET", f"/api/v1/projects/{entity}/{public}/collections?type=dataset", "alice"
    )["collections"]
    check_eq(
        sorted(ui.column("[data-test=collections]")),
        sorted(c["name"] for c in collections),
        "the dataset collections",
    )

    ui.click_link(seed.MNIST)
    ui.wait_for("[data-test=versions]")
    check_eq(
        ui.path(), f"/ui/{entity}/{public}/artifacts/{seed.MNIST}", "the collection page's path"
    )
    ui.shot("collection")
    check_eq(ui.column("[data-test=versions]"), ["v1", "v0"], "mnist's versions, newest first")
    check_eq(ui.all("[data-test=older]"), [], "an 'older' link on a collection of two versions")


def test_versions_show_aliases_tags_size_files_logged_by_and_ttl(ui: Ui) -> None:
    entity, public = ui.cfg.project("public")
    ui.open(f"/ui/{entity}/{public}/artifacts/{seed.CLASSIFIER}")
    headers = [th.text.strip() for th in ui.all("[data-test=versions] thead th")]
    for wanted in ["Version", "Aliases", "Tags", "Size", "Files", "Created", "Logged by", "TTL"]:
        check_in(wanted, headers, "the versions table's columns")
    column = {name: index for index, name in enumerate(headers)}
    rows = ui.one("[data-test=versions]").find_elements(By.CSS_SELECTOR, "tbody tr")
    check_eq(len(rows), len(seed.TRAIN_RUNS), "classifier's versions")
    for row in rows:
        cells = row.find_elements(By.CSS_SELECTOR, "td")
        selector = cells[column["Version"]].text.strip()
        expected = harness.version(entity, public, seed.CLASSIFIER, selector, user="alice")
        aliases = [
            chip.text.strip()
            for chip in cells[column["Aliases"]].find_elements(By.CSS_SELECTOR, ".chip")
        ]
        check_eq(sorted(aliases), sorted(expected["aliases"]), f"the alias chips of {selector}")
        check_eq(
            cells[column["Files"]].text.strip(),
            str(expected["file_count"]),
            f"the file count of {selector}",
        )
        check(
            cells[column["Size"]].text.strip().endswith("B"),
            f"the size of {selector} is in bytes: {cells[column['Size']].text!r}",
        )
        run = cells[column["Logged by"]].find_elements(By.CSS_SELECTOR, "a")
        check(
            run and run[0].text.strip() == expected["logged_by"],
            f"'logged by' of {selector} links its run {expected['logged_by']!r}",
        )
        check(cells[column["TTL"]].text.strip(), f"the TTL of {selector} is shown")
    # The run's page, from 'logged by'.
    first = ui.one("[data-test=versions] tbody tr").find_elements(By.CSS_SELECTOR, "td")[
        column["Logged by"]
    ]
    run = first.text.strip()
    first.find_element(By.CSS_SELECTOR, "a").click()
    ui.wait_path(lambda path: path.endswith(f"/runs/{run}"), f"the page of run {run}")
    ui.shot("run")
    check_in(run, ui.h1(), "the run page's title")
    check_in(f"{seed.MNIST}:v1", ui.one("main").text, "the run page lists what it used")


def test_versions_paginate_fifty_at_a_time(ui: Ui) -> None:
    entity, public = ui.cfg.project("public")
    ui.open(f"/ui/{entity}/{public}/artifacts/{seed.STEPS}")
    check_in(f"{seed.STEPS_COUNT} versions", ui.one("main").text, "the collection's version count")
    seen: list[str] = []
    pages = 0
    while True:
        pages += 1
        page = ui.column("[data-test=versions]")
        check(len(page) <= 50, f"page {pages} lists {len(page)} versions, more than 50")
        seen.extend(page)
        if pages == 2:
            ui.shot("collection-page-2")
        older = ui.all("[data-test=older]")
        if not older:
            break
        check_eq(len(page), 50, f"versions on page {pages}, which is not the last")
        older[0].click()
        ui.wait_path(lambda path: "before=" in path, "the next page of versions")
        check(pages < 10, "pagination ends")
    expected = [f"v{index}" for index in reversed(range(seed.STEPS_COUNT))]
    check_eq(seen, expected, "every version once, newest first, across the pages")
    check_eq(pages, -(-seed.STEPS_COUNT // 50), "pages of versions")
