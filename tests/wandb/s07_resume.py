"""Run resume: `wandb.init(id=existing, resume="allow")`, then `log_artifact`.

The resumed run is the same run (same id, history continues), the artifact's `logged_by()` is
that run, and the run ends `finished` with the config of both halves.
"""

import harness

ctx = harness.setup()
import wandb  # noqa: E402 - after the environment is set


def main() -> None:
    run_id = f"resume{ctx.nonce}"
    harness.step(f"first half of run {run_id}")
    with wandb.init(id=run_id, job_type="train", config={"half": 1}) as run:
        harness.check_eq(run.id, run_id, "id of the new run")
        run.log({"loss": 1.0})

    harness.step("resume it with resume='allow' and log an artifact")
    ctx.path("ckpt.bin").write_bytes(harness.unique_bytes(ctx, "ckpt", 5000))
    with wandb.init(id=run_id, resume="allow", job_type="train") as run:
        harness.check_eq(run.id, run_id, "id of the resumed run")
        harness.check(run.resumed, "the SDK should report the run as resumed")
        run.config.update({"second": 2})
        run.log({"loss": 0.5})
        art = wandb.Artifact("checkpoint", type="model")
        art.add_file(str(ctx.path("ckpt.bin")))
        run.log_artifact(art)
        art.wait()
        harness.check_eq(art.version, "v0", "version logged by the resumed run")

    harness.step("logged_by() is the resumed run")
    api = wandb.Api()
    version = api.artifact(ctx.qualified("checkpoint:v0"))
    harness.check_eq(version.logged_by().id, run_id, "logged_by().id")
    run = api.run(f"{ctx.entity}/{ctx.project}/{run_id}")
    harness.check_eq(run.state, "finished", "state after the resumed half")
    harness.check_eq(run.config.get("half"), 1, "config of the first half")
    harness.check_eq(run.config.get("second"), 2, "config of the resumed half")
    harness.check_eq(run.summary.get("loss"), 0.5, "summary after resuming")
    harness.check_eq([a.name for a in run.logged_artifacts()], ["checkpoint:v0"],
                     "logged_artifacts() of the resumed run")


harness.run(main)
