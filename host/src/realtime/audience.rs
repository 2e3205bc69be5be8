//! Who gets which of a run of events. The fan-out emits a run socket by socket, each socket
//! all of its events in order, rather than event by event: a socket's connection then finds
//! them queued together and writes them in one go, where event by event it would mostly write
//! (and the kernel carry) each one on its own.

use std::collections::HashMap;
use std::hash::Hash;

/// Events in one run at most: which of them a member gets is a bit set.
pub const MAX_RUN: usize = 64;

/// The members of a run's audience in the order they were first met, each with the events it
/// gets (bit `i` for the run's event `i`). `lists` gives each event's members; a run holds at
/// most [`MAX_RUN`] events.
pub fn by_member<M: Clone, K: Hash + Eq>(lists: &[&[M]], key: impl Fn(&M) -> K) -> Vec<(M, u64)> {
    assert!(lists.len() <= MAX_RUN, "a run holds at most {MAX_RUN} events");
    let mut at: HashMap<K, usize> = HashMap::new();
    let mut members: Vec<(M, u64)> = Vec::with_capacity(lists.first().map_or(0, |l| l.len()));
    for (i, list) in lists.iter().enumerate() {
        for m in *list {
            let slot = *at.entry(key(m)).or_insert_with(|| {
                members.push((m.clone(), 0));
                members.len() - 1
            });
            members[slot].1 |= 1 << i;
        }
    }
    members
}

/// The events a member gets, in the run's order.
pub fn events_of(which: u64) -> impl Iterator<Item = usize> {
    (0..MAX_RUN).filter(move |i| which & (1 << i) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_member_once_with_its_events_in_order() {
        let first: &[u32] = &[1, 2, 3];
        let second: &[u32] = &[3, 4];
        let third: &[u32] = &[1, 3];
        let out = by_member(&[first, second, third], |m| *m);
        let got: Vec<(u32, Vec<usize>)> = out.into_iter().map(|(m, w)| (m, events_of(w).collect())).collect();
        assert_eq!(got, vec![(1, vec![0, 2]), (2, vec![0]), (3, vec![0, 1, 2]), (4, vec![1])]);
    }

    #[test]
    fn a_full_run_uses_every_bit() {
        let all: &[u32] = &[7];
        let lists = vec![all; MAX_RUN];
        let out = by_member(&lists, |m| *m);
        assert_eq!(out, vec![(7, u64::MAX)]);
        assert_eq!(events_of(u64::MAX).count(), MAX_RUN);
    }

    #[test]
    fn no_events_no_audience() {
        assert!(by_member::<u32, u32>(&[], |m| *m).is_empty());
        let none: &[u32] = &[];
        assert!(by_member(&[none, none], |m| *m).is_empty());
    }
}
