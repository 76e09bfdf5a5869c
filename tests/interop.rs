//! Interop with Microsoft's own Python SDK (`azure-storage-queue`, in the
//! venv `scripts/test.sh` makes), both ways and in both message encodings:
//! - what linebacker's send-to-interface adapter puts is read and parsed by
//!   a BZI written with the SDK (`tests/interop/bzi.py`);
//! - a status reply the SDK puts is consumed by the real interface-listener
//!   and settles the request it names.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use linebacker_azure_queue::testing::{AZURITE_ACCOUNT, AZURITE_KEY, azurite_config, unique_queue_name};
use linebacker_azure_queue::{AzureBackupInterface, MessageEncoding, QueueServiceConfig};
use linebacker_domain::external::{API_VERSION, InterfaceRequest};
use linebacker_domain::ports::BackupInterface;
use linebacker_domain::testing::fixtures::interface_request;
use linebacker_domain::{BackupProviderCode, PreparedDataPathName};
use linebacker_testkit::eventually;
use linebacker_tests::{System, SystemOptions};
use serde_json::{Value, json};

const ENCODINGS: [(&str, MessageEncoding); 2] = [("none", MessageEncoding::None), ("base64", MessageEncoding::Base64)];

/// The SDK's python: `LINEBACKER_AZURE_SDK_PYTHON` (set by scripts/test.sh),
/// else the venv it makes.
fn sdk_python() -> PathBuf {
    let python = std::env::var_os("LINEBACKER_AZURE_SDK_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.run/azure-sdk-venv/bin/python"));
    assert!(python.is_file(), "{} is missing: scripts/test.sh installs azure-storage-queue there", python.display());
    python
}

/// Runs the SDK BZI with `args`, returning what it printed.
fn bzi(args: &[&str]) -> String {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interop/bzi.py");
    let output = Command::new(sdk_python())
        .arg(script)
        .args(args)
        .env("AZURE_ACCOUNT_URI", azurite_config().account_uri)
        .env("AZURE_ACCOUNT_NAME", AZURITE_ACCOUNT)
        .env("AZURE_ACCOUNT_KEY", AZURITE_KEY)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "bzi.py {args:?} failed: {printed}{}", String::from_utf8_lossy(&output.stderr));
    printed
}

#[tokio::test]
async fn a_request_linebacker_sends_is_read_and_parsed_by_the_python_sdk_in_each_encoding() {
    for (name, encoding) in ENCODINGS {
        let config = QueueServiceConfig { message_encoding: encoding, ..azurite_config() };
        let interface = AzureBackupInterface::new(&config, &unique_queue_name("interop")).unwrap();
        interface.queue().create_if_missing().await.unwrap();
        let request = InterfaceRequest {
            prepared_data_path_name: PreparedDataPathName::try_from("/prepared/Zürich & <more> \"q\"").unwrap(),
            backup_provider_code: BackupProviderCode::CloudB,
            ..interface_request()
        };
        interface.send(&request).await.unwrap();

        let read: Value = serde_json::from_str(&bzi(&["read-request", interface.queue().name(), name])).unwrap();
        assert_eq!(read, serde_json::to_value(&request).unwrap(), "{name}");
        interface.queue().delete_queue().await.unwrap();
    }
}

#[tokio::test]
async fn a_status_the_python_sdk_puts_reaches_the_request_through_interface_listener_in_each_encoding() {
    for (name, _) in ENCODINGS {
        // The simulator takes the request but would answer only after the
        // test: the SDK's reply is the one that settles it.
        let options = SystemOptions {
            failure_share: 0.0,
            reply_delay_ms: 600_000,
            extra_env: vec![("LINEBACKER__AZURE_QUEUE__MESSAGE_ENCODING".into(), name.into())],
            ..SystemOptions::default()
        };
        let system = System::start(options).await.unwrap();
        let accepted = system.post("job-17", "2022-05-30").await.unwrap();
        let id = accepted["backupRequestId"].as_str().unwrap().to_owned();
        eventually(Duration::from_secs(60), "the request to be sent to the interface", || async {
            (system.get(&id).await.ok()?["statusTypeCode"] == "Sent").then_some(())
        })
        .await
        .unwrap();

        let status = json!({
            "apiVersion": API_VERSION,
            "backupRequestId": id,
            "resultTypeCode": "Succeeded",
            "storagePathName": "/backups/job-17/2022-05-30",
            "backupByteCount": 4096,
            "copyStartTimestamp": "2022-05-30T01:00:00Z",
            "copyEndTimestamp": "2022-05-30T01:05:00Z",
            "messageText": "copied by an SDK BZI",
        });
        bzi(&["put-status", system.statuses_queue.name(), name, &status.to_string()]);

        let view = eventually(Duration::from_secs(60), "the SDK's reply to settle the request", || async {
            let view = system.get(&id).await.ok()?;
            (view["statusTypeCode"] == "Succeeded").then_some(view)
        })
        .await
        .unwrap();
        assert_eq!(view["backup"]["backupByteCount"], 4096, "{name}: {view}");
        assert_eq!(view["replyMessageText"], "copied by an SDK BZI", "{name}: {view}");
        assert_eq!(system.poison_queue.approximate_count().await.unwrap(), 0, "{name}: nothing parked");
        system.stop().await.unwrap();
    }
}
