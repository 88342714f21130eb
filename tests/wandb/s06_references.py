"""References: a `file://` directory and an `s3://` prefix (on moto, `checksum=True`).

The SDK logs one artifact holding both kinds of reference (nothing is uploaded for them); then
`cairn artifact get` downloads it, the SDK lists it (`files()`) and downloads it; both trees must
equal the referenced bytes. The
recorded entries must be W&B's: `file://` digests are the content's MD5, `s3://` ones the ETag.
"""

import hashlib

import harness

ctx = harness.setup()
import boto3  # noqa: E402
import wandb  # noqa: E402 - after the environment is set


def main() -> None:
    harness.check(ctx.s3_endpoint, "CAIRN_TEST_S3_ENDPOINT is not set: this scenario needs moto "
                  "(`cargo xtask wandb` starts the emulators when they are not running)")
    local = {
        "a.txt": harness.unique_bytes(ctx, "local-a"),
        "sub/b.bin": harness.unique_bytes(ctx, "local-b", 80_000),
    }
    harness.write_tree(ctx.path("refdata"), local)
    remote = {
        "x.csv": harness.unique_bytes(ctx, "s3-x", 500),
        "deep/y.bin": harness.unique_bytes(ctx, "s3-y", 40_000),
    }

    harness.step("create an S3 bucket on moto with two objects under data/")
    bucket = f"cairn-wandb-{ctx.nonce}"
    s3 = boto3.client("s3", endpoint_url=ctx.s3_endpoint)
    s3.create_bucket(Bucket=bucket)
    for name, data in remote.items():
        s3.put_object(Bucket=bucket, Key=f"data/{name}", Body=data)

    expected = {f"local/{name}": data for name, data in local.items()}
    expected.update({f"remote/{name}": data for name, data in remote.items()})

    harness.step("log refs with a file:// directory and an s3:// prefix")
    before = harness.stats(ctx)
    with wandb.init(job_type="refs") as run:
        art = wandb.Artifact("refs", type="dataset")
        art.add_reference(ctx.path("refdata").as_uri(), name="local")
        art.add_reference(f"s3://{bucket}/data", name="remote", checksum=True)
        entries = {path: entry for path, entry in art.manifest.entries.items()}
        harness.check_eq(sorted(entries), sorted(expected), "entries the SDK recorded")
        for name, data in remote.items():
            harness.check_eq(entries[f"remote/{name}"].digest, hashlib.md5(data).hexdigest(),
                             f"digest of remote/{name} (the ETag)")
        for name, data in local.items():
            harness.check_eq(entries[f"local/{name}"].digest, harness.b64_md5(data),
                             f"digest of local/{name}")
        run.log_artifact(art)
        art.wait()
        harness.check_eq(art.version, "v0", "version of refs")
    delta = harness.stats_delta(before, harness.stats(ctx))
    harness.check_eq(delta["blobs_received"], 0, "blobs received for references only")

    harness.step("cairn artifact get downloads the same references")
    root = ctx.path("dl", "cairn")
    harness.cairn(ctx, ["artifact", "get", ctx.qualified("refs:latest"), "--root", str(root)])
    harness.check_tree(root, expected, "cairn artifact get")

    harness.step("the SDK downloads the references")
    harness.clear_cache(ctx)
    got = wandb.Api().artifact(ctx.qualified("refs:latest"))
    harness.check_eq(got.file_count, len(expected), "file_count of refs")
    harness.check_eq(sorted(f.name for f in got.files()), sorted(expected),
                     "names files() lists (references included)")
    harness.check_tree(got.download(root=str(ctx.path("dl", "sdk"))), expected, "SDK download")


harness.run(main)
