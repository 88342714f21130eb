"""Interop both ways between the SDK and the `cairn` CLI: same digest, same bytes.

* Logged with the SDK, downloaded with `cairn artifact get`; the native API's digest equals the
  SDK's.
* Logged with `cairn artifact put`, downloaded with the SDK's `use_artifact(...).download()`
  (empty cache); the SDK's digest equals cairn's, and both equal W&B's digest of the files.
"""

import json

import harness

ctx = harness.setup()
import wandb  # noqa: E402 - after the environment is set


def main() -> None:
    sdk_files = {
        "train.csv": harness.unique_bytes(ctx, "sdk-train", 30_000),
        "sub/labels.txt": harness.unique_bytes(ctx, "sdk-labels"),
        "sub/big.bin": harness.unique_bytes(ctx, "sdk-big", 300_000),
    }
    cairn_files = {
        "weights.bin": harness.unique_bytes(ctx, "cairn-weights", 150_000),
        "readme.md": harness.unique_bytes(ctx, "cairn-readme"),
        "nested/dir/conf.json": harness.unique_bytes(ctx, "cairn-conf", 900),
    }
    harness.write_tree(ctx.path("sdk-src"), sdk_files)
    harness.write_tree(ctx.path("cairn-src"), cairn_files)

    harness.step("SDK logs sdk-made; cairn artifact get downloads it")
    with wandb.init(job_type="sdk-side") as run:
        art = wandb.Artifact("sdk-made", type="dataset")
        art.add_dir(str(ctx.path("sdk-src")))
        run.log_artifact(art)
        art.wait()
    harness.check_eq(art.digest, harness.files_digest(sdk_files), "SDK digest of sdk-made")
    native = harness.native_version(ctx, ctx.qualified("sdk-made:latest"))
    harness.check_eq(native["digest"], art.digest, "native API digest of sdk-made")
    root = ctx.path("dl", "cairn-get")
    result = harness.cairn(ctx, ["artifact", "get", ctx.qualified("sdk-made:latest"), "--root",
                                 str(root), "--json"])
    harness.check_tree(root, sdk_files, "cairn artifact get of the SDK's version")
    got = json.loads(result.stdout)
    harness.check_eq(got["version"]["digest"], art.digest, "digest cairn artifact get reports")

    harness.step("cairn artifact put logs cairn-made; the SDK downloads it")
    result = harness.cairn(ctx, ["artifact", "put", "--name", ctx.qualified("cairn-made"),
                                 "--type", "model", "--alias", "fresh", "--json",
                                 str(ctx.path("cairn-src"))])
    put = json.loads(result.stdout)
    harness.check_eq(put["version"]["digest"], harness.files_digest(cairn_files),
                     "digest cairn artifact put reports")
    harness.clear_cache(ctx)
    with wandb.init(job_type="sdk-reads") as run:
        used = run.use_artifact("cairn-made:fresh")
        harness.check_eq(used.digest, put["version"]["digest"], "SDK digest of cairn-made")
        harness.check_eq(used.type, "model", "type of cairn-made")
        harness.check_eq(used.version, "v0", "version of cairn-made")
        harness.check_tree(used.download(root=str(ctx.path("dl", "sdk"))), cairn_files,
                           "SDK download of cairn's version")


harness.run(main)
