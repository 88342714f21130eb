"""A version's pages: overview (Markdown, metadata, digest, snippets), files with downloads, the
diff, the lineage picture; hostile strings stay text; phone width."""

from __future__ import annotations

import base64
import hashlib
import json
import pathlib
import shlex
import tempfile
import urllib.parse

from selenium.webdriver.common.by import By

import harness
import seed
from harness import PHONE, Ui, check, check_eq, check_in, check_not_in, hostile_free


def _mnist(ui: Ui, selector: str = "v1") -> str:
    entity, public = ui.cfg.project("public")
    return f"/ui/{entity}/{public}/artifacts/{seed.MNIST}/{selector}"


def _leaves(value: object, key: str = "") -> list[tuple[str, object]]:
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in [(k, None), *_leaves(v, k)]]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item, key)]
    return [(key, value)]


def test_overview_renders_markdown_and_keeps_hostile_strings_as_text(ui: Ui) -> None:
    entity, public = ui.cfg.project("public")
    expected = harness.version(entity, public, seed.MNIST, "v1")
    # By its alias: the page is the same version.
    ui.open(_mnist(ui, seed.MNIST_V1_ALIAS))
    check_eq(ui.h1(), f"{seed.MNIST}:v1", "the title of the version reached by its alias")
    ui.shot("version")
    description = ui.one("[data-test=description]")
    # Markdown is rendered.
    check_eq(
        [e.text for e in description.find_elements(By.CSS_SELECTOR, "strong")],
        ["bold"],
        "bold text in the description",
    )
    check_eq(
        [e.text for e in description.find_elements(By.CSS_SELECTOR, "em")],
        ["emphasis"],
        "emphasis in the description",
    )
    check_eq(
        len(description.find_elements(By.CSS_SELECTOR, "li")), 2, "list items in the description"
    )
    links = {
        a.text: a.get_attribute("href") for a in description.find_elements(By.CSS_SELECTOR, "a")
    }
    check_eq(links.get("safe link"), "https://example.com/paper", "the description's safe link")
    # Hostile HTML is text; the javascript: link is no link to a script.
    text = description.text
    for hostile in seed.HOSTILE_STRINGS[:2]:
        check_in(hostile, text, "the description's text")
    check_not_in(
        "javascript:",
        " ".join(
            a.get_attribute("href") or "" for a in description.find_elements(By.CSS_SELECTOR, "a")
        ),
        "the description's link targets",
    )
    hostile_free(ui, ui.path())

    # Metadata: every key and value shown as text, in a tree that folds.
    metadata = ui.one("[data-test=metadata]")
    shown = metadata.text
    for key, value in _leaves(seed.METADATA):
        if value is None:
            check_in(key, shown, "the metadata's keys")
        else:
            check(
                str(value) in shown or json.dumps(value) in shown,
                f"the metadata shows {key}: {value!r}; it shows {shown!r}",
            )
    folds = metadata.find_elements(By.CSS_SELECTOR, "details")
    check(folds, "the metadata tree has folds (<details>)")
    folds[0].find_element(By.CSS_SELECTOR, "summary").click()
    check_eq(folds[0].get_attribute("open"), None, "a metadata fold after clicking its summary")

    check_eq(ui.one("[data-test=digest]").text.strip(), expected["digest"], "the digest shown")
    chips = [chip.text for chip in ui.all("[data-test=version-chips] .chip")]
    for alias in expected["aliases"]:
        check_in(alias, chips, "the version's alias chips")


def test_snippets_use_this_version(ui: Ui) -> None:
    entity, public = ui.cfg.project("public")
    ui.open(_mnist(ui))
    full = f"{entity}/{public}/{seed.MNIST}:v1"
    cli = ui.one("[data-test=snippet-cli]").text.strip()
    wandb = ui.one("[data-test=snippet-wandb]").text
    check_in(full, wandb, "the W&B snippet")
    check_in("use_artifact(", wandb, "the W&B snippet")
    compile(wandb, "snippet-wandb", "exec")  # it is valid Python
    # The CLI snippet, run as shown, downloads exactly the version's files.
    words = shlex.split(cli)
    check_eq(words[:3], ["cairn", "artifact", "get"], "the CLI snippet's command")
    check_in(full, words, "the CLI snippet")
    with tempfile.TemporaryDirectory(dir=ui.cfg.work) as scratch:
        harness.cairn(*words[1:], cwd=pathlib.Path(scratch))
        root = pathlib.Path(scratch)
        if "--root" in words:
            root = root / words[words.index("--root") + 1]
        got = {
            str(path.relative_to(root)): path.read_bytes()
            for path in root.rglob("*")
            if path.is_file()
        }
    check_eq(sorted(got), sorted(seed.mnist_v1()), "the files the CLI snippet downloads")
    check(
        all(got[path] == data for path, data in seed.mnist_v1().items()),
        "the bytes the CLI snippet downloads",
    )


def _files_listing(ui: Ui) -> list[str]:
    return [name.replace("📁", "").strip() for name in ui.column("[data-test=files]")]


def _open_folder(ui: Ui, folder: str) -> None:
    """Follows the link of the folder `folder` in the file browser's table."""
    before = ui.path()
    for anchor in ui.all("[data-test=files] a"):
        if anchor.text.replace("📁", "").strip() == f"{folder}/":
            anchor.click()
            ui.wait_path(lambda path: path != before, f"the folder {folder!r}")
            return
    raise harness.Failure(
        f"{ui.path()}: no link to the folder {folder!r}; the entries: {_files_listing(ui)}"
    )


def _expected_listing(files: dict[str, bytes], folder: str) -> list[str]:
    prefix = f"{folder}/" if folder else ""
    names = set()
    for path in files:
        if path.startswith(prefix):
            rest = path[len(prefix) :]
            names.add(rest.split("/")[0] + "/" if "/" in rest else rest)
    return sorted(names)


def test_files_browse_folders_and_download(ui: Ui) -> None:
    files = seed.mnist_v1()
    ui.sign_in("alice")
    ui.open(_mnist(ui))
    ui.click_link("Files")
    check(ui.path().startswith(_mnist(ui) + "/files"), f"the Files tab's address: {ui.path()}")
    ui.wait_for("[data-test=files]")
    ui.shot("files")
    check_eq(sorted(_files_listing(ui)), _expected_listing(files, ""), "the root folder's entries")
    _open_folder(ui, "train")
    check_eq(sorted(_files_listing(ui)), _expected_listing(files, "train"), "train/'s entries")
    ui.shot("files-folder")
    rows = ui.one("[data-test=files]").find_elements(By.CSS_SELECTOR, "tbody tr")
    session = harness.HttpSession()
    session.cookies[harness.SESSION_COOKIE] = ui.session_token() or ""
    downloaded = 0
    for row in rows:
        cells = row.find_elements(By.CSS_SELECTOR, "td")
        name = cells[0].text.strip()
        if name.endswith("/"):
            continue
        data = files[f"train/{name}"]
        check_eq(
            cells[2].text.strip(),
            base64.b64encode(hashlib.md5(data).digest()).decode(),
            f"the digest of train/{name}",
        )
        link = [a for a in row.find_elements(By.CSS_SELECTOR, "a") if a.text.strip() == "Download"]
        check(link, f"train/{name} has a 'Download' link")
        href = urllib.parse.urlsplit(link[0].get_attribute("href"))
        answer = session.get(href.path + "?" + href.query)
        check_eq(answer.status, 200, f"downloading train/{name}")
        check_eq(answer.body, data, f"the bytes of train/{name}")
        disposition = answer.header("Content-Disposition") or ""
        check(
            disposition.startswith("attachment"),
            f"train/{name} comes as an attachment: {disposition!r}",
        )
        check_in(harness.seg(name), disposition, "the download's file name")
        downloaded += 1
    check_eq(
        downloaded,
        len([p for p in files if p.startswith("train/") and p.count("/") == 1]),
        "files downloaded from train/",
    )
    # Back up through the folder path, then into the folder holding the hostile name.
    ui.click_link("(root)")
    folder = seed.HOSTILE_FILE.split("/")[0]
    _open_folder(ui, folder)
    name = seed.HOSTILE_FILE.split("/", 1)[1]
    check_eq(_files_listing(ui), [name], f"{folder}/'s entries (a hostile name shown as text)")
    hostile_free(ui, ui.path())
    link = ui.link("Download")
    href = urllib.parse.urlsplit(link.get_attribute("href"))
    answer = session.get(href.path + "?" + href.query)
    check_eq(
        answer.body, seed.MNIST_V0[seed.HOSTILE_FILE], "the bytes of the file with a hostile name"
    )


def test_hostile_file_names_stay_text(ui: Ui) -> None:
    entity, public = ui.cfg.project("public")
    base = f"/ui/{entity}/{public}/artifacts/{seed.HOSTILE_NAMES}/v0"
    ui.open(f"{base}/files")
    ui.shot("files-hostile-names")
    check_eq(
        sorted(_files_listing(ui)),
        _expected_listing(seed.HOSTILE_NAME_FILES, ""),
        "the entries named like HTML",
    )
    check_eq(
        ui.all("[data-test=files] b, [data-test=files] img"), [], "elements made from file names"
    )
    hostile_free(ui, ui.path())
    folder = next(path for path in seed.HOSTILE_NAME_FILES if "/" in path).split("/")[0]
    _open_folder(ui, folder)
    check_eq(
        _files_listing(ui),
        _expected_listing(seed.HOSTILE_NAME_FILES, folder),
        f"the entries of the folder {folder!r}",
    )
    hostile_free(ui, ui.path())


def test_references_show_their_uris(ui: Ui) -> None:
    entity, public = ui.cfg.project("public")
    ui.open(f"/ui/{entity}/{public}/artifacts/{seed.REFERENCED}/v0/files")
    everything = {**seed.REFERENCED_FILES, **{path: b"" for path in seed.REFERENCES}}
    check_eq(sorted(_files_listing(ui)), _expected_listing(everything, ""), "the root's entries")
    for path, uri in seed.REFERENCES.items():
        folder, name = path.rsplit("/", 1)
        ui.open(
            f"/ui/{entity}/{public}/artifacts/{seed.REFERENCED}/v0/files?dir={harness.seg(folder)}"
        )
        rows = [row for row in ui.rows("[data-test=files]") if row and row[0] == name]
        check(rows, f"a row for the reference {path}")
        check_in(uri, " ".join(rows[0]), f"the row of the reference {path}")
        check_eq(
            [a for a in ui.all("[data-test=files] a") if a.text.strip() == "Download"],
            [],
            f"a 'Download' link for the reference {path}",
        )
    ui.shot("files-reference")


def test_diff_lists_added_removed_and_changed_files(ui: Ui) -> None:
    ui.open(_mnist(ui) + "/diff")
    field = ui.one("input[name=against]")
    field.clear()
    field.send_keys("v0")
    field.submit()
    ui.wait_path(lambda path: "against=v0" in path, "the diff against v0")
    ui.wait_for("[data-test=diff-summary]")
    ui.shot("diff")
    old, new = seed.MNIST_V0, seed.mnist_v1()
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = sorted(p for p in set(old) & set(new) if old[p] != new[p])
    unchanged = len(set(old) & set(new)) - len(changed)
    summary = ui.one("[data-test=diff-summary]").text
    for count, word in [
        (len(added), "added"),
        (len(removed), "removed"),
        (len(changed), "changed"),
        (unchanged, "unchanged"),
    ]:
        check_in(f"{count} {word}", summary, "the diff's summary")
    for css, paths in [
        ("[data-test=diff-added]", added),
        ("[data-test=diff-removed]", removed),
        ("[data-test=diff-changed]", changed),
    ]:
        listed = sorted(code.text for code in ui.all(f"{css} code"))
        check_eq(listed, paths, f"the paths of {css}")
    # The same diff, the other way round.
    ui.open(_mnist(ui, "v0") + "/diff?against=v1")
    summary = ui.one("[data-test=diff-summary]").text
    check_in(f"{len(removed)} added", summary, "the reversed diff's summary")
    check_in(f"{len(added)} removed", summary, "the reversed diff's summary")


def _graph_nodes(ui: Ui, depth: int) -> int:
    entity, public = ui.cfg.project("public")
    version = harness.version(entity, public, seed.MNIST, "v1")
    graph = harness.api_ok(
        "GET",
        f"/api/v1/artifacts/{version['id']}/lineage/graph?depth={depth}&direction=both",
        "alice",
    )
    return len(graph["nodes"])


def test_lineage_picture_depth_explode_and_navigation(ui: Ui) -> None:
    ui.open(_mnist(ui))
    ui.click_link("Lineage")
    ui.wait_for("[data-test=lineage]")
    ui.shot("lineage")
    check_eq(ui.one("[data-test=lineage]").tag_name, "svg", "the lineage picture's element")
    grouped = len(ui.all("[data-test=lineage-node]"))
    depth = ui.one("input[name=depth]")
    explode = ui.one("input[name=explode]")
    check_eq(explode.get_attribute("type"), "checkbox", "the explode field")
    check(not explode.is_selected(), "explode is off by default")
    depth.clear()
    depth.send_keys("3")
    explode.click()
    depth.submit()
    ui.wait_path(
        lambda path: "explode=" in path and "depth=3" in path, "the lineage with depth 3, exploded"
    )
    ui.wait_for("[data-test=lineage]")
    ui.shot("lineage-exploded")
    exploded = len(ui.all("[data-test=lineage-node]"))
    check_eq(
        exploded,
        _graph_nodes(ui, 3),
        "exploded nodes at depth 3: one per run and version of the graph",
    )
    check(
        grouped < _graph_nodes(ui, 2),
        f"without explode, the runs and versions of one kind are grouped ({grouped} nodes)",
    )
    titles = " ".join(node.text for node in ui.all("[data-test=lineage-node]"))
    for run in [*seed.TRAIN_RUNS, seed.EVAL_RUN]:
        check_in(run, titles, "the exploded picture's nodes")
    # Clicking a node goes where it links.
    target = next(node for node in ui.all("[data-test=lineage-node]") if seed.EVAL_RUN in node.text)
    href = target.get_dom_attribute("href")
    check(href and href.startswith("/ui/"), f"a node links a page of the UI: {href!r}")
    target.click()
    ui.wait_path(lambda path: path == href, f"the page node {seed.EVAL_RUN} links ({href})")
    check_in(seed.EVAL_RUN, ui.h1(), "the page reached from the lineage picture")


def test_pages_fit_a_phone_screen(ui: Ui) -> None:
    entity, public = ui.cfg.project("public")
    pages = {
        "version-phone": _mnist(ui),
        "collection-phone": f"/ui/{entity}/{public}/artifacts/{seed.CLASSIFIER}",
        "files-phone": _mnist(ui) + "/files?dir=train",
        "lineage-phone": _mnist(ui) + "/lineage",
    }
    ui.resize(PHONE)
    for name, path in pages.items():
        ui.open(path)
        ui.shot(name, PHONE)
        width = ui.measure("document.documentElement.scrollWidth")
        viewport = ui.measure("window.innerWidth")
        check(
            width <= viewport,
            f"{path} at phone width: the page is {width} px wide in a {viewport} px window (it scrolls sideways)",
        )
