//! When the send queue may hand its next message to WhatsApp: the session's rate, the spacing
//! per recipient and the jitter, worked out from when messages last went. Pure arithmetic on
//! instants, so the rules are tested without a clock; the warm-up cap, which needs the store's
//! count of the last 24 hours, is the outbox's (`actor/outbox.rs`).
//!
//! Hand-written rather than a rate-limiter crate: a candidate is checked against several
//! limits before one of them may be spent, and the limiters at hand spend on every check.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::model::{QueueWait, SendPolicy};

/// Humanlike typing shows for at least this long, and at most this long.
const TYPING_MIN: Duration = Duration::from_secs(1);
const TYPING_MAX: Duration = Duration::from_secs(8);

/// What the next candidate may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It may go; the pacing counts it as sent at this time (`Pacer::handed`).
    Go(Instant),
    Wait(Instant, QueueWait),
}

#[derive(Debug, Default)]
pub struct Pacer {
    /// When the session last handed a message over.
    last: Option<Instant>,
    /// When each chat last got one, kept while its spacing can still hold a message back.
    chats: HashMap<String, Instant>,
    /// The message whose jitter was drawn, and the time it came to: drawn once, so checking
    /// again (every new send wakes the queue) does not move it.
    planned: Option<(String, Instant)>,
}

impl Pacer {
    /// Where the pacing resumes: when the session and its chats last handed a message over.
    pub fn restore(last: Option<Instant>, chats: impl IntoIterator<Item = (String, Instant)>) -> Self {
        Self { last, chats: chats.into_iter().collect(), planned: None }
    }

    /// Whether message `id` of `chat` may go now under `policy`; `draw` gives the jitter in
    /// milliseconds, up to the bound it is passed.
    pub fn check(
        &mut self,
        policy: &SendPolicy,
        id: &str,
        chat: &str,
        now: Instant,
        draw: impl FnOnce(u32) -> u64,
    ) -> Verdict {
        let gap = interval(policy);
        let rate_at = self.last.zip(gap).map(|(last, gap)| last + gap);
        let chat_at = match (self.chats.get(chat), policy.per_recipient_secs) {
            (Some(at), secs) if secs > 0 => Some(*at + Duration::from_secs(u64::from(secs))),
            _ => None,
        };
        let base = rate_at.max(chat_at);
        let due = if policy.jitter_ms == 0 {
            base
        } else {
            match &self.planned {
                Some((planned, at)) if planned == id => base.max(Some(*at)),
                _ => {
                    let at = base.unwrap_or(now).max(now) + Duration::from_millis(draw(policy.jitter_ms));
                    self.planned = Some((id.to_owned(), at));
                    Some(at)
                }
            }
        };
        match due {
            Some(at) if at > now => {
                let why = if chat_at > rate_at { QueueWait::Recipient } else { QueueWait::Rate };
                Verdict::Wait(at, why)
            }
            // A message let go a little after its time counts from its time, so timer and
            // hand-over delays do not add up to a slower rate; by at most half a gap, so the
            // next one never follows closer than that. One that waited for nothing counts
            // from now, so an idle queue earns no burst.
            Some(at) => match gap {
                Some(gap) if now < at + gap => Verdict::Go(now.checked_sub(gap / 2).map_or(at, |half| at.max(half))),
                _ => Verdict::Go(now),
            },
            None => Verdict::Go(now),
        }
    }

    /// A message of `chat` was handed over at `went`, counted at `slot` (what `check` said),
    /// but at most half a gap before `went`: a hand-over slowed after its check (a busy
    /// machine, a file to read) still keeps the next one half a gap away.
    pub fn handed(&mut self, policy: &SendPolicy, chat: &str, slot: Instant, went: Instant) {
        let at = match interval(policy).and_then(|gap| went.checked_sub(gap / 2)) {
            Some(half) => slot.max(half),
            None => slot,
        };
        self.last = Some(at);
        self.planned = None;
        if policy.per_recipient_secs > 0 {
            let spacing = Duration::from_secs(u64::from(policy.per_recipient_secs));
            // Chats whose spacing is over need no entry: the map holds only recent recipients.
            self.chats.retain(|_, last| *last + spacing > at);
            self.chats.insert(chat.to_owned(), at);
        } else {
            self.chats.clear();
        }
    }
}

/// The even gap between two messages at the policy's rate.
fn interval(policy: &SendPolicy) -> Option<Duration> {
    (policy.per_minute > 0).then(|| Duration::from_secs(60) / policy.per_minute)
}

/// How long humanlike mode shows "typing..." before a message with `chars` characters.
pub fn typing_time(policy: &SendPolicy, chars: usize) -> Duration {
    let ms = (chars as u64).saturating_mul(u64::from(policy.humanlike_ms_per_char));
    Duration::from_millis(ms).clamp(TYPING_MIN, TYPING_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(per_minute: u32, per_recipient_secs: u32, jitter_ms: u32) -> SendPolicy {
        SendPolicy { per_minute, per_recipient_secs, jitter_ms, ..SendPolicy::default() }
    }

    fn no_jitter(_: u32) -> u64 {
        panic!("no jitter is drawn without jitter_ms")
    }

    #[test]
    fn without_a_policy_everything_goes_at_once() {
        let (p, now) = (SendPolicy::default(), Instant::now());
        let mut pacer = Pacer::default();
        for i in 0..5 {
            assert_eq!(pacer.check(&p, &format!("m{i}"), "c1", now, no_jitter), Verdict::Go(now));
            pacer.handed(&p, "c1", now, now);
        }
    }

    #[test]
    fn the_rate_spaces_messages_evenly() {
        let (p, now) = (policy(120, 0, 0), Instant::now());
        let mut pacer = Pacer::default();
        assert_eq!(pacer.check(&p, "m1", "c1", now, no_jitter), Verdict::Go(now));
        pacer.handed(&p, "c1", now, now);
        let due = now + Duration::from_millis(500);
        assert_eq!(pacer.check(&p, "m2", "c2", now, no_jitter), Verdict::Wait(due, QueueWait::Rate));
        assert_eq!(pacer.check(&p, "m2", "c2", due, no_jitter), Verdict::Go(due));
    }

    #[test]
    fn a_late_hand_over_counts_from_its_time_and_an_idle_queue_earns_no_burst() {
        let (p, now) = (policy(120, 0, 0), Instant::now());
        let mut pacer = Pacer::restore(Some(now), []);
        let (due, late) = (now + Duration::from_millis(500), now + Duration::from_millis(510));
        assert_eq!(pacer.check(&p, "m2", "c", late, no_jitter), Verdict::Go(due));
        pacer.handed(&p, "c", due, due);
        let next = now + Duration::from_millis(1000);
        assert_eq!(pacer.check(&p, "m3", "c", late, no_jitter), Verdict::Wait(next, QueueWait::Rate));
        // Very late: it counts half a gap back at most, so the next keeps half a gap away.
        let later = now + Duration::from_millis(1000 + 400);
        assert_eq!(pacer.check(&p, "m3", "c", later, no_jitter), Verdict::Go(later - Duration::from_millis(250)));
        // Idle for a minute: the next message counts from when it goes.
        let idle = now + Duration::from_secs(60);
        assert_eq!(pacer.check(&p, "m3", "c", idle, no_jitter), Verdict::Go(idle));
    }

    #[test]
    fn a_slow_hand_over_keeps_the_next_message_half_a_gap_from_it() {
        let (p, now) = (policy(120, 0, 0), Instant::now());
        let mut pacer = Pacer::default();
        assert_eq!(pacer.check(&p, "m1", "c", now, no_jitter), Verdict::Go(now));
        // Checked at `now`, but it only went 400 ms later.
        pacer.handed(&p, "c", now, now + Duration::from_millis(400));
        let later = now + Duration::from_millis(500);
        assert_eq!(
            pacer.check(&p, "m2", "c", later, no_jitter),
            Verdict::Wait(now + Duration::from_millis(650), QueueWait::Rate)
        );
    }

    #[test]
    fn a_chat_waits_for_its_spacing_while_others_go() {
        let (p, now) = (policy(0, 10, 0), Instant::now());
        let mut pacer = Pacer::default();
        pacer.handed(&p, "a", now, now);
        let later = now + Duration::from_secs(3);
        assert_eq!(
            pacer.check(&p, "m2", "a", later, no_jitter),
            Verdict::Wait(now + Duration::from_secs(10), QueueWait::Recipient)
        );
        assert_eq!(pacer.check(&p, "m3", "b", later, no_jitter), Verdict::Go(later));
        pacer.handed(&p, "b", later, later);
        // `a` is forgotten once its spacing is over.
        let eleven = now + Duration::from_secs(11);
        pacer.handed(&p, "c", eleven, eleven);
        assert!(!pacer.chats.contains_key("a"));
        assert_eq!(pacer.chats.len(), 2);
    }

    #[test]
    fn the_later_limit_decides_and_names_the_wait() {
        let (p, now) = (policy(60, 5, 0), Instant::now());
        let mut pacer = Pacer::default();
        pacer.handed(&p, "a", now, now);
        let t = now + Duration::from_millis(100);
        assert_eq!(
            pacer.check(&p, "m", "a", t, no_jitter),
            Verdict::Wait(now + Duration::from_secs(5), QueueWait::Recipient)
        );
        assert_eq!(
            pacer.check(&p, "m", "b", t, no_jitter),
            Verdict::Wait(now + Duration::from_secs(1), QueueWait::Rate)
        );
    }

    #[test]
    fn jitter_is_drawn_once_per_message() {
        let (p, now) = (policy(0, 0, 2_000), Instant::now());
        let mut pacer = Pacer::default();
        let due = now + Duration::from_millis(700);
        assert_eq!(
            pacer.check(&p, "m1", "c", now, |bound| {
                assert_eq!(bound, 2_000);
                700
            }),
            Verdict::Wait(due, QueueWait::Rate)
        );
        // Checked again (a new send woke the queue): the same time, nothing drawn.
        assert_eq!(
            pacer.check(&p, "m1", "c", now + Duration::from_millis(10), no_jitter),
            Verdict::Wait(due, QueueWait::Rate)
        );
        assert_eq!(pacer.check(&p, "m1", "c", due, no_jitter), Verdict::Go(due));
        pacer.handed(&p, "c", due, due);
        assert_eq!(pacer.check(&p, "m2", "c", due, |_| 0), Verdict::Go(due));
    }

    #[test]
    fn pacing_resumes_from_what_was_handed_before_a_restart() {
        let (p, now) = (policy(6, 60, 0), Instant::now());
        let before = now - Duration::from_secs(4);
        let mut pacer = Pacer::restore(Some(before), [("a".to_owned(), before)]);
        assert_eq!(
            pacer.check(&p, "m", "b", now, no_jitter),
            Verdict::Wait(before + Duration::from_secs(10), QueueWait::Rate)
        );
        assert_eq!(
            pacer.check(&p, "m", "a", now, no_jitter),
            Verdict::Wait(before + Duration::from_secs(60), QueueWait::Recipient)
        );
    }

    #[test]
    fn typing_grows_with_the_text_within_bounds() {
        let p = SendPolicy { humanlike: true, humanlike_ms_per_char: 50, ..SendPolicy::default() };
        assert_eq!(typing_time(&p, 2), Duration::from_secs(1));
        assert_eq!(typing_time(&p, 60), Duration::from_secs(3));
        assert_eq!(typing_time(&p, 10_000), Duration::from_secs(8));
    }
}
