"""The SDK's own CLI: `wandb artifact put` and `wandb artifact get` (from the venv's `bin`).

`put` logs a directory with a type, an alias and a description (it runs a short run behind the
scenes); `get` downloads it by alias into a fresh directory, byte-identical; the public API sees
the type, alias, description and digest `put` logged.
"""

import harness

ctx = harness.setup()
import wandb  # noqa: E402 - after the environment is set


def main() -> None:
    files = {
        "model.bin": harness.unique_bytes(ctx, "cli-model", 60_000),
        "meta/info.txt": harness.unique_bytes(ctx, "cli-info"),
    }
    src = ctx.path("src")
    harness.write_tree(src, files)
    name = ctx.qualified("cli-model")

    harness.step("wandb artifact put")
    harness.wandb_cli(ctx, ["artifact", "put", "--name", name, "--type", "model",
                            "--alias", "prod", "--description", "from the wandb CLI", str(src)])

    harness.step("wandb artifact get (empty cache)")
    harness.clear_cache(ctx)
    root = ctx.path("dl", "cli")
    harness.wandb_cli(ctx, ["artifact", "get", "--root", str(root), f"{name}:prod"])
    harness.check_tree(root, files, "wandb artifact get")

    harness.step("the public API sees what put logged")
    got = wandb.Api().artifact(f"{name}:prod")
    harness.check_eq(got.type, "model", "type")
    harness.check_eq(got.version, "v0", "version")
    harness.check_eq(got.description, "from the wandb CLI", "description")
    harness.check_eq(sorted(got.aliases), ["latest", "prod"], "aliases")
    harness.check_eq(got.digest, harness.files_digest(files), "digest")
    harness.check(got.logged_by() is not None, "put should have logged through a run")


harness.run(main)
