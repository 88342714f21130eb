"""Lineage: which run logged a version and which runs used it, seen from both ends.

A producer run (with config, history and summary) logs `weights`; a consumer run uses it. Then
`artifact.logged_by()`, `artifact.used_by()`, `run.logged_artifacts()`, `run.used_artifacts()`
and `wandb.Api().run(path)` (state, config and summary as the SDK reports them) are checked.
"""

import harness

ctx = harness.setup()
import wandb  # noqa: E402 - after the environment is set

CONFIG = {"lr": 0.01, "layers": [64, 32], "optimizer": {"name": "adam", "beta": 0.9},
          "tag": "lineage"}


def main() -> None:
    weights = harness.unique_bytes(ctx, "weights", 10_000)
    ctx.path("weights.bin").write_bytes(weights)

    harness.step("producer: config, history, summary, log `weights`")
    producer = wandb.init(job_type="train", config=CONFIG)
    producer.log({"loss": 0.5, "step_note": 1})
    producer.log({"loss": 0.25, "acc": 0.75})
    producer.summary["best_acc"] = 0.75
    art = wandb.Artifact("weights", type="model")
    art.add_file(str(ctx.path("weights.bin")))
    producer.log_artifact(art)
    art.wait()
    producer_id = producer.id
    producer.finish()

    harness.step("consumer: use `weights:latest`")
    with wandb.init(job_type="evaluate") as consumer:
        consumer.use_artifact("weights:latest")
        consumer_id = consumer.id
    with wandb.init(job_type="idle") as idle:
        idle_id = idle.id

    api = wandb.Api()
    harness.step("artifact.logged_by() and used_by()")
    version = api.artifact(ctx.qualified("weights:v0"))
    logged_by = version.logged_by()
    harness.check(logged_by is not None, "logged_by() returned None")
    harness.check_eq(logged_by.id, producer_id, "logged_by().id")
    users = [r.id for r in version.used_by()]
    harness.check_eq(users, [consumer_id], "ids of used_by()")

    harness.step("Api().run(path): state, config, summary")
    run = api.run(f"{ctx.entity}/{ctx.project}/{producer_id}")
    harness.check_eq(run.id, producer_id, "run id")
    harness.check_eq(run.state, "finished", "state of the finished producer")
    config = {key: value for key, value in run.config.items() if not key.startswith("_")}
    harness.check_eq(config, CONFIG, "config as the public API reports it")
    summary = dict(run.summary)
    harness.check_eq(summary.get("loss"), 0.25, "summary `loss` (the last logged value)")
    harness.check_eq(summary.get("acc"), 0.75, "summary `acc`")
    harness.check_eq(summary.get("best_acc"), 0.75, "summary `best_acc` (set directly)")

    harness.step("run.logged_artifacts() and run.used_artifacts()")
    harness.check_eq([a.name for a in run.logged_artifacts()], ["weights:v0"],
                     "producer's logged_artifacts()")
    harness.check_eq([a.name for a in run.used_artifacts()], [], "producer's used_artifacts()")
    consumer_run = api.run(f"{ctx.entity}/{ctx.project}/{consumer_id}")
    harness.check_eq(consumer_run.state, "finished", "state of the finished consumer")
    harness.check_eq([a.name for a in consumer_run.used_artifacts()], ["weights:v0"],
                     "consumer's used_artifacts()")
    harness.check_eq([a.name for a in consumer_run.logged_artifacts()], [],
                     "consumer's logged_artifacts()")
    idle_run = api.run(f"{ctx.entity}/{ctx.project}/{idle_id}")
    harness.check_eq([a.name for a in idle_run.used_artifacts()], [], "idle run's inputs")


harness.run(main)
