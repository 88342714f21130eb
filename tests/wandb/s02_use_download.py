"""Using and downloading: `use_artifact("name:alias")` in another run, then every way to read it.

One run logs a directory artifact and a single-file artifact; the SDK cache is emptied; a second
run uses them by alias and checks `download()` (byte-identical, nothing missing or extra),
`files()`, `get_entry(...).download()`, `file()`, `verify()` (also that it catches a modified
file) and `checkout()` (which removes a stray file).
"""

import shutil

import harness

ctx = harness.setup()
import wandb  # noqa: E402 - after the environment is set


def main() -> None:
    files = {
        "a.txt": harness.unique_bytes(ctx, "a"),
        "sub/b.bin": harness.unique_bytes(ctx, "b", 200_000),
        "sub/deeper/c.json": harness.unique_bytes(ctx, "c", 700),
        "empty.txt": b"",
    }
    single = harness.unique_bytes(ctx, "model", 50_000)

    harness.step("log `ds` (a directory) and `model` (one file)")
    src = ctx.path("src")
    harness.write_tree(src, files)
    ctx.path("model.pt").write_bytes(single)
    with wandb.init(job_type="produce") as run:
        ds = wandb.Artifact("ds", type="dataset")
        ds.add_dir(str(src))
        run.log_artifact(ds, aliases=["stable"])
        model = wandb.Artifact("model", type="model")
        model.add_file(str(ctx.path("model.pt")))
        run.log_artifact(model)
        ds.wait()
        model.wait()

    harness.clear_cache(ctx)
    with wandb.init(job_type="consume") as run:
        harness.step("use_artifact('ds:stable').download()")
        used = run.use_artifact("ds:stable")
        harness.check_eq(used.version, "v0", "version behind `ds:stable`")
        root = used.download(root=str(ctx.path("dl", "all")))
        harness.check_tree(root, files, "download()")

        harness.step("files()")
        names = sorted(f.name for f in used.files())
        harness.check_eq(names, sorted(files), "names listed by files()")

        harness.step("get_entry(...).download() after emptying the cache")
        harness.clear_cache(ctx)
        entry = used.get_entry("sub/b.bin")
        harness.check_eq(entry.size, len(files["sub/b.bin"]), "size of the entry")
        harness.check_eq(entry.digest, harness.b64_md5(files["sub/b.bin"]), "entry digest")
        path = entry.download(root=str(ctx.path("dl", "entry")))
        harness.check_eq(open(path, "rb").read(), files["sub/b.bin"], "entry download bytes")

        harness.step("verify() passes on the download and fails on a modified copy")
        used.verify(root=root)
        tampered = ctx.path("dl", "tampered")
        shutil.copytree(root, tampered)
        (tampered / "a.txt").write_bytes(b"not the original\n")
        harness.expect_error(lambda: used.verify(root=str(tampered)),
                             "verify() of a modified copy")

        harness.step("checkout() replaces a directory's content")
        checkout_root = ctx.path("dl", "checkout")
        harness.write_tree(checkout_root, {"stray.txt": b"must go\n", "a.txt": b"old\n"})
        used.checkout(root=str(checkout_root))
        harness.check_tree(checkout_root, files, "checkout()")

        harness.step("file() of a single-file artifact")
        harness.clear_cache(ctx)
        used_model = run.use_artifact("model:latest")
        path = used_model.file(root=str(ctx.path("dl", "model")))
        harness.check_eq(open(path, "rb").read(), single, "file() bytes")
        harness.expect_error(lambda: used.file(root=str(ctx.path("dl", "nope"))),
                             "file() of a multi-file artifact")


harness.run(main)
