#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;

use super::*;

/// One batch as plain data: key, part, fingerprint, item ids.
type Shape = (String, (usize, usize), String, Vec<String>);

/// The plan as plain data.
fn shape(plan: &Plan<String, u32>) -> Vec<Shape> {
    plan.batches()
        .iter()
        .map(|batch| {
            let ids = batch.items().iter().map(|item| item.id.clone()).collect();
            (
                batch.key().clone(),
                batch.part(),
                batch.fingerprint().to_owned(),
                ids,
            )
        })
        .collect()
}

fn items(n: u32, keys: u32) -> Vec<WorkItem<String, u32>> {
    (0..n)
        .map(|i| WorkItem::new(format!("item-{i:04}"), format!("key-{}", i % keys), i))
        .collect()
}

#[test]
fn items_of_a_key_share_a_batch_sorted_by_id() {
    let plan = Planner::new(2).plan(items(9, 3)).unwrap();
    assert_eq!(plan.batches().len(), 3);
    assert_eq!(plan.items(), 9);
    for batch in plan.batches() {
        assert_eq!(batch.part(), (0, 1));
        assert!(batch.items().iter().all(|item| &item.key == batch.key()));
        let ids: Vec<_> = batch.items().iter().map(|item| item.id.as_str()).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(ids, sorted);
    }
}

#[test]
fn a_key_with_more_than_its_share_is_split_longest_first() {
    // One key holds 12 of 16 units: with 4 workers a share is 4, so it is
    // split in 3; the small keys are left whole, never merged.
    let mut work = items(12, 1);
    work.extend((0..4).map(|i| WorkItem::new(format!("small-{i}"), format!("other-{i}"), 0)));
    let plan = Planner::new(4).plan(work).unwrap();
    let mut parts: Vec<_> = plan
        .batches()
        .iter()
        .filter(|batch| batch.key() == "key-0")
        .map(|batch| (batch.part(), batch.items().len(), batch.cost()))
        .collect();
    parts.sort_by_key(|(part, _, _)| *part);
    assert_eq!(
        parts,
        [((0, 3), 4, 4.0), ((1, 3), 4, 4.0), ((2, 3), 4, 4.0)]
    );
    assert_eq!(plan.batches().len(), 7);
    // Costliest first.
    let costs: Vec<_> = plan.batches().iter().map(PlannedBatch::cost).collect();
    assert!(costs.windows(2).all(|pair| pair[0] >= pair[1]), "{costs:?}");
}

#[test]
fn costs_decide_the_split() {
    // A share is 10: the key of cost 24 holds 2.4 shares and becomes 3
    // batches of one item each.
    let work = vec![
        WorkItem::new("a", "big".to_owned(), 0).with_cost(8.0),
        WorkItem::new("b", "big".to_owned(), 0).with_cost(8.0),
        WorkItem::new("c", "big".to_owned(), 0).with_cost(8.0),
        WorkItem::new("d", "small".to_owned(), 0).with_cost(6.0),
    ];
    let plan = Planner::new(3).plan(work).unwrap();
    let big: Vec<_> = plan
        .batches()
        .iter()
        .filter(|batch| batch.key() == "big")
        .map(PlannedBatch::cost)
        .collect();
    assert_eq!(big, [8.0, 8.0, 8.0]);
}

#[test]
fn batches_stay_within_keys_plus_workers() {
    for (n, keys, workers) in [(2000, 20, 2), (100, 3, 8), (50, 50, 4), (7, 1, 16)] {
        let plan = Planner::new(workers).plan(items(n, keys)).unwrap();
        assert!(
            plan.batches().len() <= keys as usize + workers,
            "{n} items, {keys} keys, {workers} workers: {} batches",
            plan.batches().len()
        );
        assert_eq!(plan.items(), n as usize);
    }
}

#[test]
fn fingerprints_are_readable_and_fixed() {
    let plan = Planner::new(1)
        .plan([WorkItem::new("Main", "Mathlib/Data Nat".to_owned(), 0)])
        .unwrap();
    // A change to these values breaks every cache keyed by them: the
    // digests were computed apart from this code (SHA-256 of the key's
    // JSON and the ids, each followed by a newline).
    assert_eq!(
        plan.batches()[0].fingerprint(),
        "Mathlib_Data_Nat-0aa8ed52f0a9db58"
    );
    assert_eq!(fingerprint(r#""k""#, &["a", "b"]), "k-c71d281ed5ae53b5");
    assert_ne!(
        fingerprint(r#""k""#, &["a", "b"]),
        fingerprint(r#""k""#, &["ab"])
    );
}

#[test]
fn bad_items_are_refused_by_name() {
    let twice = [
        WorkItem::new("same", "k".to_owned(), 0),
        WorkItem::new("same", "j".to_owned(), 1),
    ];
    let err = Planner::new(2).plan(twice).unwrap_err();
    assert_eq!(err, PlanError::DuplicateId { id: "same".into() });
    assert_eq!(
        err.to_string(),
        r#"two items have the id "same"; ids must be unique in a plan"#
    );
    for cost in [-1.0, f64::NAN, f64::INFINITY] {
        let item = WorkItem::new("x", "k".to_owned(), 0).with_cost(cost);
        let err = Planner::new(2).plan([item]).unwrap_err();
        assert!(matches!(err, PlanError::BadCost { .. }), "{err:?}");
    }
}

proptest! {
    #[test]
    fn the_same_items_in_any_order_give_the_same_plan(
        n in 1u32..80,
        keys in 1u32..8,
        workers in 1usize..6,
        costs in proptest::collection::vec(0u32..20, 80),
        seed in any::<u64>(),
    ) {
        let work: Vec<_> = items(n, keys)
            .into_iter()
            .zip(&costs)
            .map(|(item, cost)| item.with_cost(f64::from(*cost)))
            .collect();
        let mut shuffled = work.clone();
        // A Fisher-Yates shuffle from `seed`.
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let planner = Planner::new(workers);
        let a = planner.plan(work).unwrap();
        let b = planner.plan(shuffled).unwrap();
        prop_assert_eq!(shape(&a), shape(&b));
        prop_assert_eq!(a.items(), n as usize);
        prop_assert!(a.batches().len() <= keys as usize + workers);
    }
}
