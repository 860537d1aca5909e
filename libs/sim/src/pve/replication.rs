//! Storage replication jobs of the default data set (pve-exporter spec §4.4 and §4.6).
//!
//! Per node one normal, one failing (`fail_count` 2 with an `error`) and one never-run job (no
//! `duration`, zero timestamps); plus a second job for one guest on shire, a disabled job and
//! jobs with `rate`/`comment`: 21 jobs for the curated guests. Generated guests beyond those get
//! a job each for about 6 % of them.

use super::data::{SCALED_VMID_BASE, round6, unit};
use super::model::{EPOCH, Guest, GuestKind, GuestStatus, ReplicationJob};

const F_REPL: u64 = 11;

#[derive(Clone, Copy, Debug, PartialEq)]
enum JobState {
    Normal,
    Failing,
    NeverRun,
    Disabled,
}

fn job(
    seed: u64,
    guest: &Guest,
    jobnum: u32,
    target: &str,
    target_ip: &str,
    state: JobState,
) -> ReplicationJob {
    let entity = u64::from(guest.vmid) * 10 + u64::from(jobnum);
    let jitter = (unit(seed, entity, F_REPL) * 600.0) as u64;
    let duration = round6(1.5 + unit(seed, entity, F_REPL + 1) * 18.0);
    let base = ReplicationJob {
        guest: guest.vmid,
        jobnum,
        vmtype: guest.kind,
        source: guest.node.clone(),
        target: target.to_owned(),
        schedule: "*/15".into(),
        last_sync: EPOCH - 300 - jitter,
        last_try: EPOCH - 300 - jitter,
        next_sync: EPOCH + 600 - jitter,
        fail_count: 0,
        duration: Some(duration),
        error: None,
        comment: None,
        rate: None,
        disable: false,
    };
    match state {
        JobState::Normal => base,
        JobState::Failing => {
            let snapshot = format!("__replicate_{}-{}_{}__", guest.vmid, jobnum, EPOCH - 120);
            let volume = match guest.kind {
                GuestKind::Qemu => format!("local-zfs:vm-{}-disk-0", guest.vmid),
                GuestKind::Lxc => format!("local-zfs:subvol-{}-disk-0", guest.vmid),
            };
            ReplicationJob {
                last_sync: EPOCH - 7200 - jitter,
                last_try: EPOCH - 120,
                next_sync: EPOCH + 180,
                fail_count: 2,
                error: Some(format!(
                    "command 'set -o pipefail && pvesm export {volume} zfs - -with-snapshots 1 -snapshot {snapshot} | \
                     /usr/bin/ssh -e none -o 'BatchMode=yes' -o 'HostKeyAlias={target}' root@{target_ip} -- \
                     pvesm import {volume} zfs - -with-snapshots 1 -snapshot {snapshot} -allow-rename 0' failed: exit code 255"
                )),
                ..base
            }
        }
        JobState::NeverRun => ReplicationJob {
            last_sync: 0,
            last_try: 0,
            next_sync: EPOCH + 900 - jitter,
            duration: None,
            ..base
        },
        JobState::Disabled => ReplicationJob {
            next_sync: 0,
            disable: true,
            comment: Some("paused while the target disk is replaced".into()),
            ..base
        },
    }
}

/// 21 jobs for the curated guests (per node: normal, failing, never run; plus a second job for
/// one guest on shire, a disabled one and one with rate and comment), then ~6 % of the others.
pub(super) fn build(seed: u64, guests: &[Guest], nodes: &[String]) -> Vec<ReplicationJob> {
    let ip = |name: &str| {
        let index = nodes.iter().position(|n| n == name).unwrap_or(0);
        format!("192.0.2.{}", 11 + index)
    };
    let next = |i: usize, step: usize| nodes[(i + step) % nodes.len()].clone();
    let mut jobs = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let eligible: Vec<&Guest> = guests
            .iter()
            .filter(|g| {
                &g.node == node
                    && !g.template
                    && g.status != GuestStatus::Unknown
                    && g.vmid < SCALED_VMID_BASE
            })
            .collect();
        let target = next(i, 1);
        let target_ip = ip(&target);
        let states = [JobState::Normal, JobState::Failing, JobState::NeverRun];
        for (guest, state) in eligible.iter().zip(states) {
            let mut j = job(seed, guest, 0, &target, &target_ip, state);
            match (node.as_str(), state) {
                ("shire", JobState::Normal) => j.rate = Some(50.0),
                ("rohan", JobState::Failing) => {
                    j.comment = Some("nightly copy for the DR node".into());
                }
                _ => {}
            }
            jobs.push(j);
        }
        if node == "shire"
            && let Some(guest) = eligible.first()
        {
            let second = next(i, 2);
            jobs.push(job(seed, guest, 1, &second, &ip(&second), JobState::Normal));
        }
        if let Some(guest) = eligible.get(3) {
            match node.as_str() {
                "rivendell" => {
                    jobs.push(job(seed, guest, 0, &target, &target_ip, JobState::Disabled))
                }
                "gondor" => {
                    let mut j = job(seed, guest, 0, &target, &target_ip, JobState::Normal);
                    j.rate = Some(12.5);
                    j.comment = Some("media library".into());
                    jobs.push(j);
                }
                _ => {}
            }
        }
    }
    for guest in guests.iter().filter(|g| g.vmid >= SCALED_VMID_BASE) {
        let k = (guest.vmid - SCALED_VMID_BASE) as usize;
        if k % 16 != 3 || guest.template {
            continue;
        }
        let r = k / 16;
        let state = if r % 5 == 1 {
            JobState::Failing
        } else if r % 7 == 2 {
            JobState::NeverRun
        } else {
            JobState::Normal
        };
        let i = nodes.iter().position(|n| *n == guest.node).unwrap_or(0);
        let target = next(i, 1);
        jobs.push(job(seed, guest, 0, &target, &ip(&target), state));
    }
    jobs.sort_by_key(|j| j.id());
    jobs
}
