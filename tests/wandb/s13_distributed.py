"""Distributed versions and tables: parallel writers `upsert_artifact` parts of one version.

* 8 processes (separate SDK runs) each upsert one `wandb.Table` (under `parts/`) and one file of
  their own, plus a file all of them write with the same content, under one `distributed_id`;
  a last run adds a `PartitionedTable` pointing at `parts/` and `finish_artifact`s it.
* The result is one version (`v0`) holding the union, downloads byte-identical, and
  `artifact.get("parts/3")` and the `PartitionedTable` read back the rows the writers wrote.
* An upsert after the finish is refused (the version is finalized); two writers giving one path
  different contents fail loudly, the error naming both.
"""

import concurrent.futures
import json
import os

import harness

ctx = harness.setup()
import wandb  # noqa: E402 - after the environment is set

WRITERS = 8
GROUP = f"dist-{ctx.nonce}"
NAME = "sharded"

WRITER_CODE = """
import os
index = int(os.environ["WRITER_INDEX"])
run = wandb.init(group={group!r}, job_type="writer")
art = wandb.Artifact({name!r}, type="dataset")
table = wandb.Table(columns=["writer", "value"], data=[[index, index * 10], [index, index * 10 + 1]])
art.add(table, f"parts/{{index}}")
with art.new_file(f"own/{{index}}.txt", mode="x") as handle:
    handle.write(f"written by {{index}} {nonce}")
with art.new_file("common.txt", mode="x") as handle:
    handle.write("the same for everyone {nonce}")
run.upsert_artifact(art, distributed_id={group!r})
art.wait()
run.finish()
print("UPSERTED", index)
"""


def writer(index: int):
    os.environ["WRITER_INDEX"] = str(index)
    code = f"import os\nos.environ['WRITER_INDEX'] = {str(index)!r}\n" + WRITER_CODE.format(
        group=GROUP, name=NAME, nonce=ctx.nonce
    )
    return harness.sdk_child(ctx, "alice", code, f"writer {index}")


def main() -> None:
    harness.step(f"{WRITERS} writers upsert in parallel")
    with concurrent.futures.ThreadPoolExecutor(max_workers=WRITERS) as pool:
        results = list(pool.map(writer, range(WRITERS)))
    for index, result in enumerate(results):
        harness.check(f"UPSERTED {index}" in result.stdout, f"writer {index} upserted: {result.stdout}")

    harness.step("the last run finishes it with a PartitionedTable")
    run = wandb.init(group=GROUP, job_type="finish")
    final = wandb.Artifact(NAME, type="dataset")
    final.add(wandb.data_types.PartitionedTable("parts"), "table")
    run.finish_artifact(final, distributed_id=GROUP)
    final.wait()
    harness.check_eq(final.version, "v0", "the finished version")
    run.finish()

    harness.step("one version with the union; tables read back")
    api = wandb.Api()
    art = api.artifact(ctx.qualified(f"{NAME}:latest"))
    harness.check_eq(art.version, "v0", "latest")
    names = sorted(entry for entry in art.manifest.entries)
    expected = sorted(
        [f"parts/{i}.table.json" for i in range(WRITERS)]
        + [f"own/{i}.txt" for i in range(WRITERS)]
        + ["common.txt", "table.partitioned-table.json"]
    )
    harness.check_eq(names, expected, "entries of the finished version")
    harness.clear_cache(ctx)
    root = art.download(str(ctx.path("download")))
    for index in range(WRITERS):
        text = (ctx.path("download") / "own" / f"{index}.txt").read_text()
        harness.check_eq(text, f"written by {index} {ctx.nonce}", f"own/{index}.txt")
    table = art.get("parts/3")
    harness.check_eq(table.data, [[3, 30], [3, 31]], "rows of parts/3")
    partitioned = art.get("table")
    rows = sorted(tuple(row) for _, row in partitioned.iterrows())
    harness.check_eq(len(rows), 2 * WRITERS, f"rows of the partitioned table under {root}")

    harness.step("cairn artifact get downloads the same tables, readable as W&B tables")
    cairn_root = ctx.path("cairn-download")
    harness.cairn(ctx, ["artifact", "get", ctx.qualified(f"{NAME}:v0"), "--root", str(cairn_root)])
    for index in range(WRITERS):
        relative = f"parts/{index}.table.json"
        ours = (cairn_root / relative).read_bytes()
        harness.check_eq(ours, (ctx.path("download") / relative).read_bytes(), f"{relative} bytes")
        parsed = json.loads(ours)
        harness.check_eq(parsed["_type"], "table", f"{relative} _type")
        harness.check_eq(parsed["columns"], ["writer", "value"], f"{relative} columns")
        harness.check_eq(parsed["data"], [[index, index * 10], [index, index * 10 + 1]], f"{relative} rows")
    pointer = json.loads((cairn_root / "table.partitioned-table.json").read_text())
    harness.check_eq(pointer, {"_type": "partitioned-table", "parts_path": "parts"}, "the partitioned table")

    harness.step("an upsert after the finish is refused")
    late = harness.sdk_child(
        ctx,
        "alice",
        WRITER_CODE.format(group=GROUP, name=NAME, nonce=ctx.nonce).replace(
            'int(os.environ["WRITER_INDEX"])', "99"
        ),
        "a late writer",
        expect_ok=False,
    )
    harness.check(late.returncode != 0, "the late upsert failed")
    harness.check(
        "finished already" in (late.stdout + late.stderr),
        f"the late upsert says the version is finished: {late.stdout[-2000:]} {late.stderr[-2000:]}",
    )

    harness.step("two writers, one path, different contents: refused, naming both")
    clash = f"clash-{ctx.nonce}"
    code = """
import os
run = wandb.init(group={clash!r}, job_type="clash")
art = wandb.Artifact("clashing", type="dataset")
with art.new_file("same.txt", mode="x") as handle:
    handle.write({content!r})
run.upsert_artifact(art, distributed_id={clash!r})
art.wait()
run.finish()
print("UPSERTED")
"""
    first = harness.sdk_child(ctx, "alice", code.format(clash=clash, content="one"), "first clashing writer")
    harness.check("UPSERTED" in first.stdout, "the first clashing writer upserted")
    second = harness.sdk_child(
        ctx, "alice", code.format(clash=clash, content="two"), "second clashing writer", expect_ok=False
    )
    output = second.stdout + second.stderr
    harness.check(second.returncode != 0, "the second clashing writer failed")
    harness.check(
        "written twice with different contents" in output and output.count("run `") >= 2,
        f"the conflict names both writers: {output[-3000:]}",
    )


harness.run(main)
