//! The update visit against virtual PODs behind the virtual BLED112 on a real pty, with a
//! real buffer file: a signed script runs once and is proven by the POD's own versions; a
//! script that fails any check is refused before the first RPC; a link cut at every point
//! of the visit in turn never yields a false success and a later visit finishes the job.

mod ota_common;

use std::sync::Arc;

use sha2::Digest;
use std::time::Duration;

use firmware_tools::radio::bled112::{DongleOptions, VirtualBled112};
use firmware_tools::radio::{Peripheral, RadioEffects};
use gateway::buffer::ota::JobState;
use gateway::ota::{self, Step, UpdateOptions, UpdateOutcome};
use gateway::transport::bled112::Bled112;
use gateway::transport::Transport;
use ota_common::*;
use sync_protocol::ids::DeviceId;
use sync_protocol::ota::ReleaseSecret;
use sync_protocol::script::UpdateScript;

fn options() -> UpdateOptions {
    UpdateOptions {
        come_back_within: Duration::from_secs(20),
        script_limit: Duration::from_secs(30),
        ..UpdateOptions::default()
    }
}

async fn rig(pods: &[&firmware_tools::pod::VirtualPod]) -> (VirtualBled112, Bled112) {
    let peripherals: Vec<Arc<dyn Peripheral>> = pods
        .iter()
        .map(|p| Arc::new((*p).clone()) as Arc<dyn Peripheral>)
        .collect();
    let dongle = VirtualBled112::start(peripherals, DongleOptions::default()).expect("pty");
    let transport = Bled112::open(dongle.path())
        .await
        .expect("the dongle opens");
    (dongle, transport)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_script_runs_once_and_the_pods_versions_prove_it() {
    let pod = pod(0x0055_0001);
    let (dongle, transport) = rig(&[&pod]).await;
    let _scan = transport.scan().await.expect("scanning");
    let bytes = large_script();
    let feed = feed(&bytes, Some(&release_key()), &[pod.device_id()]);
    let dir = tempfile::tempdir().expect("tempdir");
    let buffer = buffer(&dir, &feed, &bytes);
    let device = DeviceId::new(pod.device_id()).expect("id");

    let (steps, mut told) = tokio::sync::mpsc::unbounded_channel();
    let watched = UpdateOptions {
        steps: Some(steps),
        ..options()
    };
    let outcome = ota::update(&transport, pod.address(), device, &feed, &buffer, &watched)
        .await
        .expect("the visit runs");
    assert_eq!(
        outcome,
        UpdateOutcome::Succeeded {
            deployment: DEPLOYMENT
        }
    );
    // Each step was told as it became durable, in order, and the sending as it went.
    drop(watched);
    let mut seen = Vec::new();
    let mut sent = Vec::new();
    while let Some(step) = told.recv().await {
        match step {
            Step::Reached { deployment, state } => {
                assert_eq!(deployment, DEPLOYMENT);
                seen.push(state);
            }
            Step::Sent {
                deployment,
                bytes: b,
                of,
                records,
                records_of,
            } => {
                assert_eq!((deployment, of), (DEPLOYMENT, bytes.len()));
                assert_eq!(seen, [JobState::Sending], "told while sending");
                sent.push((b, records, records_of));
            }
        }
    }
    let script = UpdateScript::decode(&bytes).expect("script");
    assert!(
        sent.len() > 10,
        "{} reports for {} bytes",
        sent.len(),
        bytes.len()
    );
    assert!(sent.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
    assert!(sent.iter().all(|&(_, _, of)| of == script.record_count()));
    assert!(sent.iter().any(|&(_, r, of)| r > 0 && r < of), "{sent:?}");
    assert_eq!(
        sent.last().map(|&(b, r, _)| (b, r)),
        Some((bytes.len(), script.record_count()))
    );
    assert_eq!(
        seen,
        [
            JobState::Sending,
            JobState::Triggered,
            JobState::Resetting,
            JobState::Rebooting,
            JobState::Succeeded
        ]
    );
    assert_eq!(app_tag(&pod), tag(2050, 2, 0));
    assert_eq!(runs(&pod, &bytes), 1);

    {
        let b = buffer.lock().expect("lock");
        let job = b.ota_job(device, DEPLOYMENT).expect("read").expect("a job");
        assert_eq!(job.state, JobState::Succeeded);
        assert!(
            job.log.contains("sent ") && job.log.contains("back after"),
            "{}",
            job.log
        );
        let actions = b.pending_ota_actions(10).expect("read");
        assert_eq!(actions.len(), 1);
        assert!(actions[0].successful);
    }

    // Done is done: the next visit has nothing to do and runs nothing.
    let again = ota::update(
        &transport,
        pod.address(),
        device,
        &feed,
        &buffer,
        &options(),
    )
    .await
    .expect("the visit runs");
    assert_eq!(again, UpdateOutcome::NothingToDo);
    assert_eq!(runs(&pod, &bytes), 1);
    dongle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_failing_any_check_is_refused_before_the_first_rpc() {
    let pod = pod(0x0055_0002);
    let (dongle, transport) = rig(&[&pod]).await;
    let _scan = transport.scan().await.expect("scanning");
    let bytes = script();
    let device = DeviceId::new(pod.device_id()).expect("id");
    let stranger = ReleaseSecret::from_bytes(&[0x77; 32]);

    let mut tampered = feed(&bytes, Some(&release_key()), &[pod.device_id()]);
    let mut other_bytes = bytes.clone();
    other_bytes[30] ^= 1;
    tampered.deployments[0].script.sha256 = hex::encode(sha2::Sha256::digest(&other_bytes));
    let mismatched = feed(&bytes, Some(&release_key()), &[pod.device_id()]);
    let unknown = feed(&bytes, Some(&stranger), &[pod.device_id()]);
    let mut revoked = feed(&bytes, Some(&release_key()), &[pod.device_id()]);
    revoked.release_keys = vec![stranger.public()];
    let mut replayed = feed(&bytes, Some(&release_key()), &[pod.device_id()]);
    replayed.deployments[0].script.target =
        sync_protocol::ota::ScriptTarget::new("arch-systems", "water app", "2.1").expect("t");
    let unsigned = feed(&bytes, None, &[pod.device_id()]);

    for (name, feed, bytes, reason) in [
        (
            "tampered",
            tampered,
            other_bytes.clone(),
            "not the ones that were signed",
        ),
        (
            "not the announced bytes",
            mismatched,
            other_bytes.clone(),
            "do not hash",
        ),
        (
            "unknown key",
            unknown,
            bytes.clone(),
            "not a current release key",
        ),
        (
            "revoked key",
            revoked,
            bytes.clone(),
            "not a current release key",
        ),
        (
            "another script's signature",
            replayed,
            bytes.clone(),
            "is for",
        ),
        ("unsigned", unsigned, bytes.clone(), "unsigned"),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let buffer = buffer(&dir, &feed, &bytes);
        let outcome = ota::update(
            &transport,
            pod.address(),
            device,
            &feed,
            &buffer,
            &options(),
        )
        .await
        .expect("the visit runs");
        assert_eq!(outcome, UpdateOutcome::NothingToDo, "{name}");
        let b = buffer.lock().expect("lock");
        let job = b.ota_job(device, DEPLOYMENT).expect("read").expect(name);
        assert_eq!(job.state, JobState::Failed, "{name}");
        assert!(
            job.log.contains("refused before any RPC"),
            "{name}: {}",
            job.log
        );
        assert!(job.log.contains(reason), "{name}: {}", job.log);
        let actions = b.pending_ota_actions(10).expect("read");
        assert_eq!(actions.len(), 1, "{name}");
        assert!(
            !actions[0].successful && actions[0].log.contains(reason),
            "{name}"
        );
    }
    assert_eq!(app_tag(&pod), tag(2049, 1, 0), "nothing ran");
    assert!(pod.with_model(|m| m.scripts_completed().is_empty()));
    assert_eq!(
        pod.with_model(|m| m.bridge_status()).0 as u32,
        0,
        "the bridge was never used"
    );
    dongle.stop().await;
}

/// The link is cut after 1, 2, 3… notifications of the visit, so every step (sending,
/// triggering, polling while records run, the reset, coming back) is cut in turn on one
/// POD or another. Whatever the cut, the job is never marked succeeded before the POD came
/// back with the new versions, the script runs exactly once, and later visits finish it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_cut_anywhere_never_fakes_success_and_a_later_visit_finishes() {
    let bytes = script();
    let cuts: Vec<u64> = (1..=24).collect();
    let pods: Vec<_> = cuts.iter().map(|n| pod(0x0055_1000 + n)).collect();
    let refs: Vec<&_> = pods.iter().collect();
    let (dongle, transport) = rig(&refs).await;
    let _scan = transport.scan().await.expect("scanning");
    let ids: Vec<u64> = pods.iter().map(|p| p.device_id()).collect();
    let feed = feed(&bytes, Some(&release_key()), &ids);
    let dir = tempfile::tempdir().expect("tempdir");
    let buffer = buffer(&dir, &feed, &bytes);
    let options = options();

    for (pod, cut) in pods.iter().zip(&cuts) {
        let device = DeviceId::new(pod.device_id()).expect("id");
        pod.set_effects(RadioEffects {
            disconnect_after_notifications: Some(*cut),
            ..Default::default()
        });
        let first = ota::update(&transport, pod.address(), device, &feed, &buffer, &options).await;
        pod.set_effects(RadioEffects::default());
        let state = {
            let b = buffer.lock().expect("lock");
            b.ota_job(device, DEPLOYMENT)
                .expect("read")
                .map(|j| j.state)
        };
        if let Ok(UpdateOutcome::Succeeded { .. }) = first {
            assert_eq!(
                app_tag(pod),
                tag(2050, 2, 0),
                "cut {cut}: success only when proven"
            );
        } else {
            assert_ne!(state, Some(JobState::Succeeded), "cut {cut}: {first:?}");
        }
        // Later visits finish the job.
        let mut outcome = first;
        for _ in 0..5 {
            if matches!(outcome, Ok(UpdateOutcome::Succeeded { .. })) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            outcome =
                ota::update(&transport, pod.address(), device, &feed, &buffer, &options).await;
        }
        assert_eq!(
            outcome.as_ref().ok(),
            Some(&UpdateOutcome::Succeeded {
                deployment: DEPLOYMENT
            }),
            "cut {cut}: {outcome:?}"
        );
        assert_eq!(
            runs(pod, &bytes),
            1,
            "cut {cut}: the script ran exactly once"
        );
        assert_eq!(app_tag(pod), tag(2050, 2, 0), "cut {cut}");
    }
    let actions = buffer
        .lock()
        .expect("lock")
        .pending_ota_actions(100)
        .expect("read");
    assert_eq!(actions.len(), pods.len(), "one outcome per POD");
    assert!(actions.iter().all(|a| a.successful));
    dongle.stop().await;
}
