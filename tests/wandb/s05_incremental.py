"""Incremental versions: `new_draft()` of a logged version, `add_file` and `remove`, then log.

Only the added files travel (`blobs_received` grows by their number); the new version downloads
with the unchanged files, the added ones, and without the removed one; the base version is
untouched.
"""

import harness

ctx = harness.setup()
import wandb  # noqa: E402 - after the environment is set


def main() -> None:
    base = {f"part-{index}.txt": harness.unique_bytes(ctx, f"part-{index}", 2000 * index)
            for index in range(1, 5)}
    base["nested/keep.bin"] = harness.unique_bytes(ctx, "keep", 90_000)
    src = ctx.path("src")
    harness.write_tree(src, base)

    harness.step("log tree:v0")
    with wandb.init(job_type="base") as run:
        art = wandb.Artifact("tree", type="dataset")
        art.add_dir(str(src))
        run.log_artifact(art)
        art.wait()
        harness.check_eq(art.version, "v0", "version of the base")

    added = {
        "new/one.txt": harness.unique_bytes(ctx, "one"),
        "new/two.bin": harness.unique_bytes(ctx, "two", 70_000),
    }
    harness.write_tree(ctx.path("added"), added)
    expected = {name: data for name, data in base.items() if name != "part-2.txt"}
    expected.update(added)

    harness.step("new_draft(): add two files, remove one, log")
    with wandb.init(job_type="extend") as run:
        used = run.use_artifact("tree:latest")
        draft = used.new_draft()
        for name in added:
            draft.add_file(str(ctx.path("added", name)), name=name)
        draft.remove("part-2.txt")
        before = harness.stats(ctx)
        run.log_artifact(draft)
        draft.wait()
        delta = harness.stats_delta(before, harness.stats(ctx))
        harness.check_eq(draft.version, "v1", "version of the incremental log")
        harness.check_eq(delta["blobs_received"], len(added),
                         "blobs received (only the added files may travel)")
        harness.check_eq(draft.digest, harness.files_digest(expected), "digest of v1")

    harness.step("v1 downloads with the added files and without the removed one")
    harness.clear_cache(ctx)
    api = wandb.Api()
    v1 = api.artifact(ctx.qualified("tree:v1"))
    harness.check_eq(v1.file_count, len(expected), "file_count of v1")
    harness.check_tree(v1.download(root=str(ctx.path("dl", "v1"))), expected, "download of v1")
    harness.step("v0 is unchanged")
    v0 = api.artifact(ctx.qualified("tree:v0"))
    harness.check_tree(v0.download(root=str(ctx.path("dl", "v0"))), base, "download of v0")


harness.run(main)
