//! The full exposition of a representative scrape, reviewed and committed as a snapshot.

mod common;

use pve_exporter::collectors::Collector;

#[test]
fn full_scrape_of_a_pve9_cluster() {
    let (exposition, outcomes) = common::render_all(&common::full_inputs());
    assert_eq!(
        outcomes,
        Collector::ALL
            .iter()
            .map(|c| (*c, true))
            .collect::<Vec<_>>()
    );
    insta::assert_snapshot!(exposition);
}

/// PVE's key order and list order are random (Perl hashes): they must not change the output.
#[test]
fn shuffled_keys_and_lists_render_identically() {
    let (expected, _) = common::render_all(&common::full_inputs());

    let reorder = |name: &str| -> Vec<u8> {
        let mut body: serde_json::Value = serde_json::from_slice(&common::fixture(name)).unwrap();
        if let Some(list) = body["data"].as_array_mut() {
            // The resources fixture ends with a duplicate id whose loser depends on list order.
            if name.starts_with("cluster_resources") {
                list.pop();
            }
            list.reverse();
        }
        // serde_json writes object keys sorted: a different key order from the fixtures.
        serde_json::to_vec(&body).unwrap()
    };
    let mut inputs = common::full_inputs();
    inputs.cluster_status = Some(Ok(pve_exporter::model::parse_cluster_status(&reorder(
        "cluster_status.json",
    ))
    .unwrap()));
    inputs.cluster_resources = Some(Ok(pve_exporter::model::parse_cluster_resources(&reorder(
        "cluster_resources_pve9.json",
    ))
    .unwrap()));
    inputs.not_backed_up = Some(Ok(pve_exporter::model::parse_not_backed_up(&reorder(
        "not_backed_up.json",
    ))
    .unwrap()));
    inputs.qemu = Some(Ok(pve_exporter::model::parse_qemu_list(&reorder(
        "qemu.json",
    ))
    .unwrap()));
    inputs.replication = Some(Ok(pve_exporter::model::parse_replication(&reorder(
        "replication.json",
    ))
    .unwrap()));
    let (shuffled, _) = common::render_all(&inputs);
    assert_eq!(shuffled, expected);
}
