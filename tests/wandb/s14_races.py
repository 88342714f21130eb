"""Races on one collection: ordinary logs, drafts, links and a distributed version at once.

Real SDK processes, all at the same time on one collection that already has `v0`:
* 4 ordinary logs of distinct content, each with its own alias `plain-<i>`;
* 4 drafts from `v0`, each adding a file of its own, each with alias `draft-<i>`;
* 3 writers upserting parts of one distributed version, then (in a second wave, alongside 2
  more ordinary logs) its finish with alias `dist`;
* 3 processes linking `v0` into portfolio `picks` at once, each with alias `link-<i>`, and in
  the second wave one linking the version `plain-0` made.

Afterwards the collection holds exactly `v0`…`v11`: dense, no duplicates, one version per
content; every alias points at the version its process logged, `latest` at `v11`. The
portfolio holds exactly two links: `v0` (the collection's `v0`, with every `link-<i>`) and `v1`
(`plain-0`'s version, `latest`).
"""

import concurrent.futures
import json

import harness

ctx = harness.setup()
import wandb  # noqa: E402 - after the environment is set

NAME = "contended"
DIST = f"race-{ctx.nonce}"

PLAIN = """
run = wandb.init(job_type="plain")
art = wandb.Artifact({name!r}, type="dataset")
with art.new_file("data.txt", mode="x") as handle:
    handle.write({content!r})
run.log_artifact(art, aliases=[{alias!r}])
art.wait()
print("LOGGED", art.version, art.digest)
run.finish()
"""

DRAFT = """
run = wandb.init(job_type="draft")
base = run.use_artifact({base!r})
draft = base.new_draft()
with draft.new_file({path!r}, mode="x") as handle:
    handle.write({content!r})
run.log_artifact(draft, aliases=[{alias!r}])
draft.wait()
print("LOGGED", draft.version, draft.digest)
run.finish()
"""

PART = """
run = wandb.init(group={dist!r}, job_type="part")
art = wandb.Artifact({name!r}, type="dataset")
with art.new_file({path!r}, mode="x") as handle:
    handle.write({content!r})
run.upsert_artifact(art, distributed_id={dist!r})
art.wait()
print("UPSERTED")
run.finish()
"""

LINK = """
api = wandb.Api()
api.artifact({source!r}).link({target!r}, aliases=[{alias!r}])
print("LINKED")
"""

FINISH = """
run = wandb.init(group={dist!r}, job_type="finish")
art = wandb.Artifact({name!r}, type="dataset")
with art.new_file("finish.txt", mode="x") as handle:
    handle.write({content!r})
run.finish_artifact(art, distributed_id={dist!r}, aliases=["dist"])
art.wait()
print("LOGGED", art.version, art.digest)
run.finish()
"""


def child(code: str, what: str) -> str:
    return harness.sdk_child(ctx, "alice", code, what).stdout


def logged(output: str, what: str) -> tuple[str, str]:
    for line in output.splitlines():
        if line.startswith("LOGGED "):
            _, version, digest = line.split()
            return version, digest
    raise harness.ScenarioFailure(f"{what} printed no LOGGED line: {output[-2000:]}")


def main() -> None:
    unique = lambda label: harness.unique_bytes(ctx, label).decode()  # noqa: E731
    base = child(
        PLAIN.format(name=NAME, content=unique("base"), alias="base"), "the base log"
    )
    harness.check_eq(logged(base, "the base log")[0], "v0", "the base version")

    jobs: dict[str, str] = {}
    for i in range(4):
        jobs[f"plain-{i}"] = PLAIN.format(name=NAME, content=unique(f"plain-{i}"), alias=f"plain-{i}")
        jobs[f"draft-{i}"] = DRAFT.format(
            base=f"{NAME}:v0", path=f"draft-{i}.txt", content=unique(f"draft-{i}"), alias=f"draft-{i}"
        )
    for i in range(3):
        jobs[f"part-{i}"] = PART.format(
            dist=DIST, name=NAME, path=f"part-{i}.txt", content=unique(f"part-{i}")
        )
        jobs[f"link-{i}"] = LINK.format(
            source=ctx.qualified(f"{NAME}:v0"), target="picks", alias=f"link-{i}"
        )
    harness.step(f"wave 1: {len(jobs)} processes at once")
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        outputs = dict(zip(jobs, pool.map(lambda item: child(item[1], item[0]), jobs.items())))

    second = {
        "dist": FINISH.format(dist=DIST, name=NAME, content=unique("finish")),
        "plain-4": PLAIN.format(name=NAME, content=unique("plain-4"), alias="plain-4"),
        "plain-5": PLAIN.format(name=NAME, content=unique("plain-5"), alias="plain-5"),
        "link-plain": LINK.format(
            source=ctx.qualified(f"{NAME}:plain-0"), target="picks", alias="picked"
        ),
    }
    harness.step("wave 2: the distributed finish and two more logs at once")
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(second)) as pool:
        outputs.update(zip(second, pool.map(lambda item: child(item[1], item[0]), second.items())))

    harness.step("the final state, exactly")
    claimed = {
        alias: logged(output, alias)
        for alias, output in outputs.items()
        if not alias.startswith(("part-", "link-"))
    }
    versions = sorted(int(version[1:]) for version, _ in claimed.values())
    harness.check_eq(versions, list(range(1, 12)), "the versions the processes got")
    api = wandb.Api()
    listed = [a.version for a in api.artifacts("dataset", ctx.qualified(NAME), per_page=5)]
    harness.check_eq(listed, [f"v{i}" for i in range(11, -1, -1)], "versions of the collection")
    for alias, (version, digest) in claimed.items():
        found = api.artifact(ctx.qualified(f"{NAME}:{alias}"))
        harness.check_eq((found.version, found.digest), (version, digest), f"alias {alias}")
    harness.check_eq(api.artifact(ctx.qualified(f"{NAME}:latest")).version, "v11", "latest")
    digests = [digest for _, digest in claimed.values()]
    harness.check_eq(len(set(digests)), len(digests), "one version per content")
    dist = api.artifact(ctx.qualified(f"{NAME}:dist"))
    harness.check_eq(
        sorted(dist.manifest.entries),
        ["finish.txt", "part-0.txt", "part-1.txt", "part-2.txt"],
        "the distributed version's entries",
    )
    listing = json.loads(
        harness.cairn(ctx, ["artifact", "ls", ctx.qualified(NAME), "--json"]).stdout
    )
    harness.check_eq(listing["total"], 12, "cairn ls total")
    picks = json.loads(
        harness.cairn(ctx, ["artifact", "ls", ctx.qualified("picks"), "--json"]).stdout
    )
    harness.check_eq(
        [
            (v["version_index"], v["source"]["version_index"], sorted(v["aliases"]))
            for v in picks["versions"]
        ],
        [
            (1, int(claimed["plain-0"][0][1:]), ["latest", "picked"]),
            (0, 0, ["link-0", "link-1", "link-2"]),
        ],
        "the portfolio after the races",
    )


harness.run(main)
