"""The lineage graph of runs logged with the SDK, read with `cairn artifact lineage`.

* prep logs `raw`; train uses `raw:latest` and logs `model`; eval uses `model:latest`: the graph
  of `model` has them all, with the right edges, up and down and to a depth.
* `--format dot` is valid DOT (parsed with pydot) with one node per run and version.
* A run in alice's private project that uses the public model is hidden from bob, who sees the
  public part and how many nodes are hidden.
"""

import json

import harness

ctx = harness.setup()
import pydot  # noqa: E402
import wandb  # noqa: E402 - after the environment is set

PUBLIC = ctx.public_project  # alice's public project, seeded


def log(run, name: str) -> None:
    art = wandb.Artifact(name, type="dataset")
    with art.new_file("data.txt", mode="xb") as handle:
        handle.write(harness.unique_bytes(ctx, name))
    run.log_artifact(art)
    art.wait()


def lineage(args: list[str], user: str = "alice") -> dict:
    return json.loads(harness.cairn(ctx, ["artifact", "lineage", *args, "--format", "json"], user=user).stdout)


def main() -> None:
    entity, project = PUBLIC.split("/")
    prep = wandb.init(project=project, entity=entity, job_type="prep")
    log(prep, "raw")
    prep.finish()
    train = wandb.init(project=project, entity=entity, job_type="train")
    train.use_artifact("raw:latest")
    log(train, "model")
    train.finish()
    evaluate = wandb.init(project=project, entity=entity, job_type="eval")
    evaluate.use_artifact("model:latest")
    evaluate.finish()
    # alice's private run (this scenario's own project) uses the public model.
    audit = wandb.init(job_type="audit")
    audit.use_artifact(f"{PUBLIC}/model:latest")
    audit.finish()

    model = f"{PUBLIC}/model:latest"
    run_key = lambda run, where=PUBLIC: f"run:{where}/{run.id}"  # noqa: E731

    harness.step("up and down from the model, as alice")
    graph = lineage([model, "--depth", "3"])
    keys = [node["key"] for node in graph["nodes"]]
    harness.check_eq(graph["nodes"][0]["collection"], "model", "the first node is the model")
    for run in (train, prep, evaluate):
        harness.check(run_key(run) in keys, f"run {run.id} in the graph: {keys}")
    harness.check(run_key(audit, f"{ctx.entity}/{ctx.project}") in keys, "alice sees her private run")
    harness.check_eq(graph["hidden"], 0, "nothing hidden from alice")
    edges = {(edge["from"], edge["to"]) for edge in graph["edges"]}
    model_key, raw_key = keys[0], next(
        node["key"] for node in graph["nodes"] if node.get("collection") == "raw"
    )
    harness.check((run_key(train), model_key) in edges, "train -> model")
    harness.check((raw_key, run_key(train)) in edges, "raw -> train")
    harness.check((run_key(prep), raw_key) in edges, "prep -> raw")
    harness.check((model_key, run_key(evaluate)) in edges, "model -> eval")

    harness.step("direction and depth")
    up = lineage([model, "--direction", "up", "--depth", "1"])
    harness.check_eq([node["key"] for node in up["nodes"]], [model_key, run_key(train)], "up 1")
    down = lineage([model, "--direction", "down", "--depth", "1"])
    harness.check_eq(
        sorted(node["key"] for node in down["nodes"][1:]),
        sorted([run_key(evaluate), run_key(audit, f"{ctx.entity}/{ctx.project}")]),
        "down 1",
    )

    harness.step("DOT parses, one node per run and version")
    dot = harness.cairn(ctx, ["artifact", "lineage", model, "--depth", "3", "--format", "dot"]).stdout
    parsed = pydot.graph_from_dot_data(dot)
    harness.check(parsed, f"pydot could not parse the DOT:\n{dot}")
    nodes = [node for node in parsed[0].get_nodes() if node.get_name() not in ("node", "edge", "graph")]
    harness.check_eq(len(nodes), len(graph["nodes"]), "DOT nodes")
    harness.check_eq(len(parsed[0].get_edges()), len(graph["edges"]), "DOT edges")
    text = harness.cairn(ctx, ["artifact", "lineage", model, "--depth", "3"]).stdout
    harness.check(f"run {PUBLIC}/{train.id}" in text, f"the text form names the runs:\n{text}")

    harness.step("bob sees the public part, and how much is hidden")
    seen = lineage([model, "--depth", "3"], user="bob")
    seen_keys = [node["key"] for node in seen["nodes"]]
    harness.check(
        all(ctx.project not in key for key in seen_keys), f"bob sees no private node: {seen_keys}"
    )
    harness.check_eq(seen["hidden"], 1, "nodes hidden from bob")
    harness.check_eq(len(seen_keys), len(keys) - 1, "bob's node count")


harness.run(main)
