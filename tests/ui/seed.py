"""Seeds the artifacts the UI tests browse (`cargo xtask ui` runs it once, before `run.py`).

The accounts and projects are already there (xtask made them). This adds, as alice:

* in the public project, `mnist` (a dataset), logged with the `cairn` CLI: v0 from a directory
  with nested folders and a file with a hostile name, v1 from v0 with `--base` (one file
  changed, one removed, two added), a Markdown description and metadata full of hostile strings;
* `hostile-names`, whose manifest paths are HTML (`<b>x</b>.txt` is a folder `<b>x<` holding
  `b>.txt`), logged through the native API, and `referenced`, a stored file and a reference;
* lineage: runs `train-run-a` and `train-run-b` (job type `train`) each use `mnist:v1` and log a
  version of `classifier` (a model); `eval-run-a` uses `classifier:v1`;
* `steps`, a checkpoint collection of `STEPS` versions (pagination), through the native API in
  a loop (four requests a version, on one connection);
* one collection for each test that changes something (`editable`, `deletable`, `linkable`,
  `csrf-target`), so the tests stay independent of each other and of their order;
* in the private project, `secret-plans` (type `blueprint`), which outsiders must not see.

The tests import the constants below to know what to expect.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import pathlib
import shutil
import sys
import time
from typing import Any

import harness

# mnist:v0, and what v1 changes.
MNIST = "mnist"
HOSTILE_FILE = "notes/<img src=x onerror=alert(1)>.txt"
MNIST_V0: dict[str, bytes] = {
    "README.md": b"# MNIST\n\nversion 0\n",
    "old.txt": b"this file is removed in v1\n",
    "train/images/0001.png": bytes(range(256)) * 4,
    "train/labels.csv": b"id,label\n1,7\n2,2\n",
    HOSTILE_FILE: b"a file whose name is HTML\n",
}
MNIST_V1_CHANGED: dict[str, bytes] = {
    "README.md": b"# MNIST\n\nversion 1, with a validation split\n"
}
MNIST_V1_ADDED: dict[str, bytes] = {
    "val/images/0002.png": bytes(reversed(range(256))) * 2,
    "val/labels.csv": b"id,label\n2,2\n",
}
MNIST_V1_REMOVED = ["old.txt"]
MNIST_V1_ALIAS = "best"

# The description and metadata of mnist:v1: Markdown, and hostile strings that must stay text.
HOSTILE_STRINGS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[x](javascript:alert(1))",
]
DESCRIPTION = (
    "# Hand-written digits\n\n"
    "A **bold** claim, an *emphasis* and a [safe link](https://example.com/paper).\n\n"
    "- first item\n- second item\n\n"
    "Hostile: " + " and ".join(HOSTILE_STRINGS) + "\n"
)
METADATA: dict[str, Any] = {
    "<script>alert(1)</script>": "<img src=x onerror=alert(1)>",
    "accuracy": 0.987,
    "nested": {"</code><b>key</b>": ['"><script>alert(2)</script>', 3]},
}

# Manifest paths that are HTML.
HOSTILE_NAMES = "hostile-names"
HOSTILE_NAME_FILES: dict[str, bytes] = {
    "<b>x</b>.txt": b"bold?\n",
    "<img src=x onerror=alert(1)>.txt": b"image?\n",
    "quote \"'&amp;.txt": b"quotes and an entity\n",
}

# A version with a reference (a file Cairn does not hold) beside a stored file.
REFERENCED = "referenced"
REFERENCED_FILES: dict[str, bytes] = {"local.txt": b"held by cairn\n"}
REFERENCES: dict[str, str] = {"remote/data.csv": "s3://some-bucket/data.csv"}

# Lineage.
CLASSIFIER = "classifier"
TRAIN_RUNS = ["train-run-a", "train-run-b"]
EVAL_RUN = "eval-run-a"

# Pagination.
STEPS = "steps"
STEPS_COUNT = 120

# One collection per changing test.
EDITABLE = "editable"
DELETABLE = "deletable"
DELETABLE_ALIAS = "keep-me"
LINKABLE = "linkable"
CSRF_TARGET = "csrf-target"
CSRF_DESCRIPTION = "left alone by refused forms"

# The private project's collection.
SECRET = "secret-plans"
SECRET_TYPE = "blueprint"
SECRET_DESCRIPTION = "the plans nobody outside may see"
SECRET_FILE = "hidden-treasure-map.txt"


def mnist_v1() -> dict[str, bytes]:
    files = {path: data for path, data in MNIST_V0.items() if path not in MNIST_V1_REMOVED}
    files.update(MNIST_V1_CHANGED)
    files.update(MNIST_V1_ADDED)
    return files


def manifest(
    files: dict[str, bytes], references: dict[str, str] | None = None
) -> tuple[bytes, str]:
    """The W&B manifest of `files` (and `references`, path to URI, whose digest is the URI as
    the SDK records a reference it does not check) and its artifact digest (hex), as the SDK
    computes them."""
    entries: dict[str, dict[str, Any]] = {
        path: {"digest": base64.b64encode(hashlib.md5(data).digest()).decode(), "size": len(data)}
        for path, data in files.items()
    }
    for path, uri in (references or {}).items():
        entries[path] = {"digest": uri, "ref": uri, "size": 0}
    contents = dict(sorted(entries.items()))
    document = {
        "version": 1,
        "storagePolicy": "wandb-storage-policy-v1",
        "storagePolicyConfig": {"storageLayout": "V2"},
        "contents": contents,
    }
    hasher = hashlib.md5(b"wandb-artifact-manifest-v1\n")
    for path, entry in contents.items():
        hasher.update(f"{path}:{entry['digest']}\n".encode())
    return json.dumps(document).encode(), hasher.hexdigest()


class Api:
    """The native API on one kept-alive connection (seeding sends hundreds of requests)."""

    def __init__(self, user: str) -> None:
        self.cfg = harness.config()
        self.key = self.cfg.keys[user]
        self.connection: http.client.HTTPConnection | None = None

    def call(self, method: str, path: str, body: Any = None, raw: bytes | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.key}", "Accept": "application/json"}
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif raw is not None:
            headers["Content-Type"] = "application/octet-stream"
        for attempt in range(2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(
                    self.cfg.host, self.cfg.port, timeout=60
                )
            try:
                self.connection.request(method, path, body=data, headers=headers)
                answer = self.connection.getresponse()
                text = answer.read()
                break
            except (http.client.HTTPException, ConnectionError):
                # The server closed a kept-alive connection: once more on a new one.
                self.connection.close()
                self.connection = None
                if attempt:
                    raise
        if not 200 <= answer.status < 300:
            raise harness.Failure(
                f"seeding: `{method} {path}` answered {answer.status}: {text[:500]!r}"
            )
        return json.loads(text) if text else None

    def log(
        self,
        project: str,
        collection: str,
        artifact_type: str,
        files: dict[str, bytes],
        references: dict[str, str] | None = None,
        **extra: Any,
    ) -> dict:
        """Logs a version through the logging protocol: create, manifest, blobs, commit."""
        body, digest = manifest(files, references)
        created = self.call(
            "POST",
            f"/api/v1/projects/{project}/artifacts",
            {"collection": collection, "artifact_type": artifact_type, "digest": digest, **extra},
        )
        version = created["version"]
        if created["status"] == "existing":
            return version
        receipt = self.call("PUT", f"/api/v1/artifacts/{version['id']}/manifest", raw=body)
        by_md5 = {hashlib.md5(data).hexdigest(): data for data in files.values()}
        for blob in receipt["missing"]:
            self.call(
                "PUT",
                f"/api/v1/artifacts/{version['id']}/blobs/{blob['md5']}",
                raw=by_md5[blob["md5"]],
            )
        return self.call("POST", f"/api/v1/artifacts/{version['id']}/commit")


def write_tree(root: pathlib.Path, files: dict[str, bytes]) -> pathlib.Path:
    if root.exists():
        shutil.rmtree(root)
    for path, data in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root


def main() -> None:
    start = time.monotonic()
    cfg = harness.config()
    public = cfg.projects["public"]
    public_name = public.split("/")[1]
    scratch = cfg.work / "seed"
    api = Api("alice")

    # mnist with the CLI: v0 from a directory, v1 from v0 with --base.
    harness.cairn(
        "artifact",
        "put",
        "--name",
        f"{public_name}/{MNIST}",
        "--type",
        "dataset",
        str(write_tree(scratch / "mnist-v0", MNIST_V0)),
    )
    v1_dir = write_tree(scratch / "mnist-v1", {**MNIST_V1_CHANGED, **MNIST_V1_ADDED})
    remove = [arg for path in MNIST_V1_REMOVED for arg in ("--remove", path)]
    harness.cairn(
        "artifact",
        "put",
        "--base",
        f"{public_name}/{MNIST}:latest",
        *remove,
        "--alias",
        MNIST_V1_ALIAS,
        "--description",
        DESCRIPTION,
        "--metadata",
        json.dumps(METADATA),
        str(v1_dir),
    )
    print(f"seed: mnist v0, v1 with the CLI ({harness.elapsed(start)})")

    api.log(
        public, HOSTILE_NAMES, "dataset", HOSTILE_NAME_FILES, description="Files named like HTML."
    )
    api.log(public, REFERENCED, "dataset", REFERENCED_FILES, REFERENCES)

    # Lineage: two training runs use mnist:v1 and log a classifier each; an evaluation uses v1.
    mnist = api.call("GET", f"/api/v1/projects/{public}/artifacts/{MNIST}:v1")
    for index, run in enumerate(TRAIN_RUNS):
        api.call("POST", f"/api/v1/projects/{public}/runs", {"id": run, "job_type": "train"})
        api.call(
            "POST", f"/api/v1/projects/{public}/runs/{run}/inputs", {"artifact_id": mnist["id"]}
        )
        api.log(
            public,
            CLASSIFIER,
            "model",
            {
                "weights.bin": f"weights of {run}".encode() * 50,
                "config.json": json.dumps({"run": index}).encode(),
            },
            run=run,
            description=f"Trained by `{run}`.",
        )
        api.call("POST", f"/api/v1/projects/{public}/runs/{run}/finish", {"exit_code": 0})
    classifier = api.call("GET", f"/api/v1/projects/{public}/artifacts/{CLASSIFIER}:v1")
    api.call("POST", f"/api/v1/projects/{public}/runs", {"id": EVAL_RUN, "job_type": "eval"})
    api.call(
        "POST",
        f"/api/v1/projects/{public}/runs/{EVAL_RUN}/inputs",
        {"artifact_id": classifier["id"]},
    )
    api.call("POST", f"/api/v1/projects/{public}/runs/{EVAL_RUN}/finish", {"exit_code": 0})
    print(f"seed: lineage ({harness.elapsed(start)})")

    # One collection per changing test.
    api.log(
        public,
        EDITABLE,
        "dataset",
        {"data.txt": b"editable\n"},
        description="Edit me.",
        metadata={"k": 1},
    )
    api.log(public, DELETABLE, "dataset", {"data.txt": b"deletable 0\n"}, aliases=[DELETABLE_ALIAS])
    api.log(public, DELETABLE, "dataset", {"data.txt": b"deletable 1\n"})
    api.log(public, LINKABLE, "model", {"model.bin": b"linkable model\n"})
    api.log(public, CSRF_TARGET, "dataset", {"data.txt": b"csrf\n"}, description=CSRF_DESCRIPTION)
    api.log(
        cfg.projects["private"],
        SECRET,
        SECRET_TYPE,
        {SECRET_FILE: b"X marks the spot\n"},
        description=SECRET_DESCRIPTION,
    )
    print(f"seed: the collections of the changing tests ({harness.elapsed(start)})")

    for step in range(STEPS_COUNT):
        api.log(public, STEPS, "checkpoint", {"step.txt": f"step {step}\n".encode()})
    print(f"seed: {STEPS} with {STEPS_COUNT} versions ({harness.elapsed(start)})")


if __name__ == "__main__":
    try:
        main()
    except Exception as error:
        print(f"seed: FAILED: {error}", file=sys.stderr)
        raise
