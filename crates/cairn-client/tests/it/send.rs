//! Every public future can be spawned on a multi-threaded runtime (a compile-time check: the
//! futures are built, never run).

use std::path::Path;

use cairn_client::{Api, Artifact, Client, DownloadOptions, LoggedArtifact, Run, RunOptions};

fn assert_send<T: Send>(_: &T) {}

fn futures_are_send(
    client: &Client,
    run: &Run,
    artifact: &mut LoggedArtifact,
    draft: &mut Artifact,
) {
    let api = Api::new(client.clone());
    assert_send(&client.viewer());
    assert_send(&client.server_stats());
    assert_send(&api.artifact("p/a:v0"));
    assert_send(&api.collections("e", "p"));
    assert_send(&api.versions("e", "p", "a"));
    assert_send(&Run::init(client, RunOptions::new("p")));
    assert_send(&run.use_artifact("a:latest"));
    assert_send(&run.clone().finish(0));
    assert_send(&artifact.download(&DownloadOptions::default()));
    assert_send(&artifact.checkout(Path::new("x")));
    assert_send(&artifact.verify(Path::new("x")));
    assert_send(&artifact.file(None));
    assert_send(&artifact.files());
    assert_send(&artifact.lineage());
    assert_send(&artifact.save());
    assert_send(&run.log_artifact(draft, &[]));
}

#[test]
fn public_futures_are_send() {
    // Naming the function makes the compiler check its body; there is nothing to run.
    let _checked: fn(&Client, &Run, &mut LoggedArtifact, &mut Artifact) = futures_are_send;
}
