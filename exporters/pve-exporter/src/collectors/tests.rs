use portkey_kit::exposition::Format;

use super::*;

#[test]
fn sorted_by_id_is_stable_and_keeps_the_first() {
    let items = vec![("b", 1), ("a", 2), ("b", 3), ("a", 4), ("c", 5)];
    assert_eq!(sorted_by_id(items), [("a", 2), ("b", 1), ("c", 5)]);
}

#[test]
fn sample_pairs_labels_in_spec_order() {
    const SPEC: FamilySpec = FamilySpec::gauge("x", "help", &["a", "b"]);
    let mut encoder = Encoder::new(Format::Text);
    SPEC.start(&mut encoder);
    SPEC.sample(&mut encoder, &["1", "2"], 0.5);
    assert_eq!(
        String::from_utf8(encoder.finish()).unwrap(),
        "# HELP x help\n# TYPE x gauge\nx{a=\"1\",b=\"2\"} 0.5\n"
    );
}

#[test]
fn no_family_has_more_labels_than_a_sample_can_carry() {
    for family in families().chain([&FAILOVER_TARGET]) {
        assert!(family.labels.len() <= 8, "{}", family.name);
    }
}
