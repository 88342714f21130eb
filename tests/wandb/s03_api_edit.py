"""The public API: `wandb.Api().artifact(path)` reports what W&B would, and edits round-trip.

Checks `type`, `name`, `version`, `aliases`, `digest`, `size`, `file_count`, `created_at`,
`metadata`, `description`, `qualified_name`; then edits description, metadata and aliases,
`save()`s, re-fetches with a new `Api()` and sees the edits; the removed alias no longer resolves
(the SDK raises its not-found error) and the added one does.
"""

import datetime

import harness

ctx = harness.setup()
import wandb  # noqa: E402 - after the environment is set

METADATA = {"framework": "torch", "layers": [64, 32], "optim": {"name": "adam", "lr": 0.001}}


def main() -> None:
    files = {
        "weights.bin": harness.unique_bytes(ctx, "weights", 123_456),
        "config/params.yaml": harness.unique_bytes(ctx, "params", 321),
    }
    src = ctx.path("src")
    harness.write_tree(src, files)
    started = datetime.datetime.now(datetime.timezone.utc)

    harness.step("log model:v0 with description, metadata and aliases")
    with wandb.init(job_type="train") as run:
        art = wandb.Artifact("model", type="model", description="first cut", metadata=METADATA)
        art.add_dir(str(src))
        run.log_artifact(art, aliases=["candidate", "prod"])
        art.wait()

    harness.step("Api().artifact reports the logged values")
    path = ctx.qualified("model:v0")
    got = wandb.Api().artifact(path)
    harness.check_eq(got.type, "model", "type")
    harness.check_eq(got.name, "model:v0", "name")
    harness.check_eq(got.qualified_name, path, "qualified_name")
    harness.check_eq(got.version, "v0", "version")
    harness.check_eq(sorted(got.aliases), ["candidate", "latest", "prod"], "aliases")
    harness.check_eq(got.digest, harness.files_digest(files), "digest")
    harness.check_eq(got.size, sum(len(data) for data in files.values()), "size")
    harness.check_eq(got.file_count, len(files), "file_count")
    harness.check_eq(got.metadata, METADATA, "metadata")
    harness.check_eq(got.description, "first cut", "description")
    created = datetime.datetime.fromisoformat(str(got.created_at).replace("Z", "+00:00"))
    if created.tzinfo is None:
        created = created.replace(tzinfo=datetime.timezone.utc)
    skew = datetime.timedelta(minutes=5)
    harness.check(started - skew <= created <= datetime.datetime.now(datetime.timezone.utc) + skew,
                  f"created_at {got.created_at!r} should be the time of the log ({started})")

    harness.step("edit description, metadata and aliases, then save()")
    got.description = "second thoughts"
    got.metadata = {"framework": "torch", "optim": {"name": "sgd"}, "notes": ["edited"]}
    got.aliases.remove("prod")
    got.aliases.append("staging")
    got.save()

    harness.step("a fresh Api() sees the edits")
    again = wandb.Api().artifact(path)
    harness.check_eq(again.description, "second thoughts", "description after save()")
    harness.check_eq(again.metadata,
                     {"framework": "torch", "optim": {"name": "sgd"}, "notes": ["edited"]},
                     "metadata after save()")
    harness.check_eq(sorted(again.aliases), ["candidate", "latest", "staging"],
                     "aliases after save()")
    harness.check_eq(again.digest, got.digest, "digest after save()")
    staged = wandb.Api().artifact(ctx.qualified("model:staging"))
    harness.check_eq(staged.version, "v0", "version behind the added alias")
    harness.expect_error(lambda: wandb.Api().artifact(ctx.qualified("model:prod")),
                         "the removed alias `prod`", ["not found", "does not exist"])


harness.run(main)
