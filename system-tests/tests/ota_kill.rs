//! The gateway binary killed with SIGKILL at random points while it updates PODs over the
//! air, again and again, then a last run let finish. The script is not idempotent in what
//! the POD records: every run to its end adds its SHA-256 to the POD's `scripts_completed`,
//! so a script sent again after its trigger shows as a second entry.
//!
//! Eight quiet PODs on two virtual BLED112 dongles (one update at a time per dongle, the other
//! slot left to collection), a 64 KiB firmware image in the script so that sending takes
//! long enough to be cut, and kills aimed at random points of update visits or anywhere in a
//! run, so they land while scripts are sent and run, while PODs reset and are reconnected,
//! while outcomes are posted and the feed polled. The gateway's limit for a POD to come back
//! from its reset is short (5 s), so restarts straddle it too. After each kill the buffer
//! and the PODs are looked at, and the phases the kills cut are counted and printed.
//!
//! In the end: every POD ran the script exactly once and reports the new app; every job in
//! the buffer succeeded and no outcome waits to be sent; in the cloud, every action of the
//! deployment tells the truth (each POD has a successful one from the gateway, none says
//! failed), and the deployment completes from the PODs' own version reports.
//!
//! `IOTILE_OTA_KILLS` sets the number of kills (default 24), `IOTILE_OTA_SEED` the seed of
//! the random lifetimes (printed either way, so a failing run can be repeated).

#![allow(clippy::unwrap_used)]

#[path = "../../cloud/tests/common/mod.rs"]
mod common;
mod site;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use firmware_tools::pod::{BridgeStatus, VirtualPod};
use firmware_tools::radio::bled112::{DongleOptions, VirtualBled112};
use firmware_tools::radio::Peripheral;
use gateway::buffer::ota::JobState;
use gateway::buffer::{Budget, Buffer};
use serde_json::Value;
use sha2::{Digest, Sha256};
use site::ota::{deploy, update_script, versions_known, NEW_APP};
use site::pods::quiet_pod;
use site::process::GatewayProcess;
use site::runs::{env_or, seed, wait_for, XorShift};
use site::{site, DEVICE};

/// The PODs of each dongle: two updates run at once, one per dongle.
const DONGLES: [[u32; 4]; 2] = [[DEVICE, 0xA3, 0xA4, 0xA5], [0xA6, 0xA7, 0xA8, 0xA9]];
/// The controller image in the script: sending it takes a good part of a visit.
const IMAGE: usize = 64 * 1024;
/// Where a run's kill is aimed. A whole update takes about 1.5 s here (the script is sent in
/// a few tenths; then it runs, the POD resets into its new image and is reconnected after
/// half a second, and again after the controller reset), and a run reaches its first update
/// visit from a few tenths to two seconds after its start; lifetimes counted from the start
/// alone would mostly cut start-ups or land after the last update. So most kills wait for a
/// run's first update visit (the log says when one starts) and land a random time into it,
/// from the sending to the outcome queued for the cloud; the others land blind, anywhere
/// from before the dongles are open to well into visits, polls and posts.
const INTO_UPDATE_MS: (u64, u64) = (0, 1_800);
const BLIND_MS: (u64, u64) = (100, 2_500);
/// One kill in this many is blind.
const BLIND_EVERY: u64 = 5;
/// A run aimed at an update visit that starts none in this time is killed anyway. A run may
/// begin with collection visits in every slot (2 s each) before its first update visit.
const NO_UPDATE_WITHIN: Duration = Duration::from_secs(6);
const BUDGET: Budget = Budget {
    max_bytes: 512 << 20,
};

/// What a kill cut, as the buffer and the PODs show it right after: the states of the
/// unfinished jobs, and the POD side of a bridge in use (a script being received or run).
fn phases_cut(buffer: &std::path::Path, pods: &[(u32, VirtualPod)]) -> Vec<&'static str> {
    let mut phases = Vec::new();
    // Before the first run has made it there is no buffer yet.
    if let Ok(b) = Buffer::open_read_only(buffer, BUDGET) {
        let jobs = b.ota_job_states().unwrap();
        for (_, _, state) in &jobs {
            if !state.is_final() {
                phases.push(state.as_str());
            }
        }
        if !b.pending_ota_actions(100).unwrap().is_empty() {
            phases.push("outcome unsent");
        }
        if jobs.is_empty() {
            phases.push("no job yet");
        }
    }
    for (_, pod) in pods {
        match pod.with_model(|m| m.bridge_status().0) {
            BridgeStatus::Waiting | BridgeStatus::Receiving => phases.push("POD receiving"),
            BridgeStatus::Received => phases.push("POD holding a script"),
            BridgeStatus::Validated | BridgeStatus::Executing => phases.push("POD running it"),
            BridgeStatus::Idle => {}
        }
    }
    phases.sort_unstable();
    phases.dedup();
    phases
}

/// Whether every POD ran the script and no job is open: no update visit will start again.
fn all_done(buffer: &std::path::Path, pods: &[(u32, VirtualPod)], sha: &str) -> bool {
    let open = Buffer::open_read_only(buffer, BUDGET)
        .map(|b| b.ota_job_states().unwrap().iter().any(|j| !j.2.is_final()))
        .unwrap_or(true);
    !open
        && pods
            .iter()
            .all(|(_, pod)| pod.with_model(|m| m.scripts_completed().iter().any(|r| r == sha)))
}

fn log_len(gateway: &GatewayProcess) -> u64 {
    std::fs::metadata(gateway.dir.join("gateway.log")).map_or(0, |m| m.len())
}

/// Waits (at most `within`) until the log, past `from`, says an update visit started.
async fn update_visit_started(gateway: &GatewayProcess, from: u64, within: Duration) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let deadline = tokio::time::Instant::now() + within;
    let mut bytes = Vec::new();
    while tokio::time::Instant::now() < deadline {
        if let Ok(mut log) = std::fs::File::open(gateway.dir.join("gateway.log")) {
            bytes.clear();
            log.seek(SeekFrom::Start(from)).unwrap();
            log.read_to_end(&mut bytes).unwrap();
            // Lossy: the gateway may be half-way through writing a character.
            if String::from_utf8_lossy(&bytes).contains("update visit") {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    false
}

fn device_slug(id: u32) -> String {
    format!("d--0000-0000-0000-{id:04x}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_pod_runs_the_script_once_through_sigkills_of_the_gateway() {
    let kills: usize = env_or("IOTILE_OTA_KILLS", 24);
    let seed = seed("IOTILE_OTA_SEED");
    eprintln!("OTA kill: {kills} kills, IOTILE_OTA_SEED={seed}");
    let mut rng = XorShift(seed);

    let app = common::TestApp::spawn(common::Backend::Sqlite).await;
    let s = site(&app).await;
    let ids: Vec<u32> = DONGLES.iter().flatten().copied().collect();
    for id in ids.iter().filter(|id| **id != DEVICE) {
        s.claim(&app, *id).await;
    }
    let pods: Vec<(u32, VirtualPod)> = ids.iter().map(|id| (*id, quiet_pod(*id))).collect();
    let mut dongles = Vec::new();
    for on in DONGLES {
        let peripherals: Vec<Arc<dyn Peripheral>> = pods
            .iter()
            .filter(|(id, _)| on.contains(id))
            .map(|(_, pod)| Arc::new(pod.clone()) as Arc<dyn Peripheral>)
            .collect();
        dongles.push(VirtualBled112::start(peripherals, DongleOptions::default()).unwrap());
    }
    let ports: Vec<&std::path::Path> = dongles.iter().map(VirtualBled112::path).collect();

    let dir = tempfile::tempdir().unwrap();
    let mut gateway = GatewayProcess::new(
        dir.path(),
        &format!("http://{}", app.addr),
        &ports,
        // The PODs come back from their reset in well under a second; a short limit puts
        // a gateway that is down, or starting again, past it while a POD reboots.
        "[ota]\npoll = \"300 ms\"\ncome_back_within = \"5 s\"\n",
    );
    s.register_gateway(&app, &gateway.key(), "ota-kill").await;

    // The cloud learns the PODs' versions from a first, undisturbed run; the deployment's
    // criteria need them.
    gateway.start();
    assert!(
        versions_known(&app, &s.staff, &ids, Duration::from_secs(60)).await,
        "every POD's versions known; gateway log:\n{}",
        gateway.log_tail(40)
    );
    gateway.kill();

    let bytes = update_script(IMAGE);
    let sha = hex::encode(Sha256::digest(&bytes));
    let d = deploy(&app, &s, &bytes, &ids, None).await;

    let started = Instant::now();
    let mut cut: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut aims: BTreeMap<&'static str, usize> = BTreeMap::new();
    for n in 0..kills {
        let log_from = log_len(&gateway);
        let run = Instant::now();
        gateway.start();
        let blind = rng.between(1, BLIND_EVERY) == 1;
        let aim = if blind || all_done(&gateway.buffer(), &pods, &sha) {
            tokio::time::sleep(Duration::from_millis(rng.between(BLIND_MS.0, BLIND_MS.1))).await;
            if blind {
                "blind"
            } else {
                "blind, all updated"
            }
        } else if update_visit_started(&gateway, log_from, NO_UPDATE_WITHIN).await {
            let into = rng.between(INTO_UPDATE_MS.0, INTO_UPDATE_MS.1);
            tokio::time::sleep(Duration::from_millis(into)).await;
            "into an update"
        } else {
            "no update started"
        };
        gateway.kill();
        let phases = phases_cut(&gateway.buffer(), &pods);
        eprintln!(
            "OTA kill {n}: {aim}, after {} ms, cut {phases:?}",
            run.elapsed().as_millis()
        );
        *aims.entry(aim).or_default() += 1;
        for phase in phases {
            *cut.entry(phase).or_default() += 1;
        }
    }
    let updated_after_kills = pods
        .iter()
        .filter(|(_, pod)| pod.with_model(|m| m.scripts_completed().contains(&sha)))
        .count();
    eprintln!(
        "OTA kill: {kills} kills in {:?}; {updated_after_kills} of {} PODs updated by then; \
         kills by aim {aims:?}; kills per phase cut: {cut:?}",
        started.elapsed(),
        pods.len()
    );

    // Kills that never cut an update would prove nothing (say, if the log line they wait
    // for changed).
    if kills >= 10 {
        let open = ["sending", "triggered", "resetting", "rebooting"];
        assert!(
            cut.keys().any(|phase| open.contains(phase)),
            "no kill cut an update: {cut:?}"
        );
    }

    // The last run is let finish: every POD's outcome reaches the cloud, and the PODs' own
    // version reports complete the deployment.
    gateway.start();
    // A failure reported is final (the job never runs again), so it ends the wait at once.
    let (completed, actions) = wait_for(Duration::from_secs(180), || async {
        let r = d.request(&app).await;
        let actions = d.actions(&app).await;
        let reported = ids.iter().all(|id| {
            actions
                .iter()
                .any(|a| a["device"] == device_slug(*id) && from_gateway(a))
        });
        let failed = actions.iter().any(|a| a["attempt_successful"] == false);
        ((reported && !r["completed_on"].is_null()) || failed).then_some((r, actions))
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "every POD's outcome in the cloud and the deployment complete; gateway log:\n{}",
            gateway.log_tail(60)
        )
    });
    // Every POD ends updated (asserted below), so an action saying the attempt failed is
    // false: the gateway gave up on a POD that did run the script.
    for action in &actions {
        assert_eq!(
            action["attempt_successful"],
            true,
            "{action}\ngateway log:\n{}",
            gateway.log_tail(60)
        );
    }
    eprintln!(
        "OTA kill: deployment complete {:?} after the first kill",
        started.elapsed()
    );
    let status = gateway.stop(Duration::from_secs(10));
    assert!(status.success(), "SIGTERM stops it cleanly: {status:?}");

    // Each POD ran the script exactly once, and is the new app.
    for (id, pod) in &pods {
        let runs = pod.with_model(|m| m.scripts_completed().to_vec());
        assert_eq!(
            runs.iter().filter(|r| **r == sha).count(),
            1,
            "POD {id:#x} ran the script once: {runs:?}\n{}",
            gateway.log_tail(60)
        );
        let app_tag = pod.with_model(|m| m.app_tag());
        assert_eq!(
            (app_tag.tag, app_tag.major, app_tag.minor),
            NEW_APP,
            "POD {id:#x}"
        );
    }

    // The buffer: one job per POD, each succeeded, every outcome sent.
    let buffer = Buffer::open_read_only(&gateway.buffer(), BUDGET).unwrap();
    let mut jobs = buffer.ota_job_states().unwrap();
    jobs.sort_unstable_by_key(|(device, ..)| device.get());
    let want: Vec<_> = ids
        .iter()
        .map(|id| {
            (
                sync_protocol::ids::DeviceId::from_u32(*id),
                d.id,
                JobState::Succeeded,
            )
        })
        .collect();
    assert_eq!(jobs, want, "every job succeeded");
    assert_eq!(buffer.pending_ota_actions(100).unwrap(), vec![]);

    // The cloud: every action is truthful. Every POD ended updated, so none may say the
    // attempt failed, and each has a success the gateway reported (not only the one the
    // cloud makes up itself when a POD's version report arrives first). An outcome posted
    // again after a kill cut the cloud's answer would be a duplicate of a true one.
    assert_eq!(completed["state"], "completed", "{completed}");
    assert_eq!(completed["progress"]["confirmed"], ids.len(), "{completed}");
    let actions = d.actions(&app).await;
    for action in &actions {
        assert_eq!(action["attempt_successful"], true, "{action}");
    }
    // Per POD: the actions the gateway reported, and those the cloud made up itself.
    let mut per_pod = BTreeMap::new();
    for id in &ids {
        let mine: Vec<&Value> = actions
            .iter()
            .filter(|a| a["device"] == device_slug(*id))
            .collect();
        assert!(
            mine.iter().any(|a| from_gateway(a)),
            "POD {id:#x}: {mine:?}"
        );
        let reported = mine.iter().filter(|a| from_gateway(a)).count();
        per_pod.insert(format!("{id:#x}"), (reported, mine.len() - reported));
    }
    eprintln!(
        "OTA kill: all {} PODs updated once; {} actions in the cloud, per POD (from the \
         gateway, auto created) {per_pod:?}; in {:?}",
        pods.len(),
        actions.len(),
        started.elapsed()
    );
    for dongle in dongles {
        dongle.stop().await;
    }
}

/// A successful action the gateway reported: its log ends with the POD back as the new app.
fn from_gateway(action: &Value) -> bool {
    action["attempt_successful"] == true
        && action["log"]
            .as_str()
            .is_some_and(|log| log.contains("back after"))
}
