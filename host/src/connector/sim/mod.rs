//! A WhatsApp stand-in that behaves like the real network at the connector boundary: QR codes
//! rotate and run out, pairing codes expire, sends are acked then delivered then read, the
//! network drops, the phone unlinks the device. Driven by `/api/v1/sim/...`.

mod codes;
mod groups;
mod votes;
mod world;

pub use world::{Device, NetworkRecord, Sender, SentMedia, SimError, SimWorld};

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use self::world::{Live, Phase, PhoneAction};
use super::{
    Connection, Connector, ConnectorError, ConnectorEvent, ContactProfile, DropKind, EventSink, LoginMethod,
    MediaSource, NumberStatus, OpenRequest, Outgoing, QuotedRef, ReceiptKind, Unread,
};
use crate::config::SessionTimings;
use crate::model::{ChatState, Jid, Presence, SessionKey};

pub struct SimConnector {
    world: SimWorld,
    timings: SessionTimings,
}

impl SimConnector {
    pub fn new(world: SimWorld, timings: SessionTimings) -> Self {
        Self { world, timings }
    }
}

#[async_trait]
impl Connector for SimConnector {
    async fn open(&self, req: OpenRequest) -> Result<Box<dyn Connection>, ConnectorError> {
        let device = match req.credentials.as_deref().map(serde_json::from_str::<Device>) {
            None => None,
            Some(Ok(d)) => Some(d),
            Some(Err(_)) => {
                return Err(ConnectorError::Rejected("stored credentials are not simulator credentials".into()));
            }
        };
        let (phone_tx, phone_rx) = mpsc::unbounded_channel();
        let (stop_tx, stop_rx) = mpsc::unbounded_channel();
        let events = req.events.clone();
        let id = self.world.attach(&req.key, |id| Live {
            id,
            phase: Phase::Connecting,
            events: events.clone(),
            phone: phone_tx,
            stop: stop_tx.clone(),
            silent: false,
            awaiting: HashMap::new(),
        });
        let run = Run { world: self.world.clone(), key: req.key.clone(), id, events, timings: self.timings.clone() };
        tokio::spawn(run.run(device, req.login, phone_rx, stop_rx));
        Ok(Box::new(SimConnection { world: self.world.clone(), key: req.key, id, stop: stop_tx }))
    }

    async fn erase(&self, key: &SessionKey) {
        self.world.forget(key);
    }

    fn paces_resumes(&self) -> bool {
        false
    }
}

/// The server side of one simulated connection.
struct Run {
    world: SimWorld,
    key: SessionKey,
    id: u64,
    events: EventSink,
    timings: SessionTimings,
}

impl Run {
    fn emit(&self, ev: ConnectorEvent) {
        let _ = self.events.send(ev);
    }

    fn end(&self, ev: ConnectorEvent) {
        self.emit(ev);
        self.world.detach(&self.key, self.id);
    }

    async fn run(
        self,
        device: Option<Device>,
        login: LoginMethod,
        mut phone: mpsc::UnboundedReceiver<PhoneAction>,
        mut stop: mpsc::UnboundedReceiver<()>,
    ) {
        let device = match device {
            Some(d) if self.world.is_revoked(&self.key, &d.token) => {
                return self.end(ConnectorEvent::Disconnected(DropKind::LoggedOut));
            }
            Some(d) => d,
            None => {
                let Some(d) = self.login(login, &mut phone, &mut stop).await else { return };
                self.emit(ConnectorEvent::PairSuccess {
                    phone: d.phone.clone(),
                    display_name: d.name.clone(),
                    credentials: serde_json::to_string(&d).expect("device serialises"),
                });
                d
            }
        };
        if self.world.network_down(&self.key) {
            return self.end(ConnectorEvent::Disconnected(DropKind::Transient("network unreachable".into())));
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(self.world.config().connect_delay_ms)) => {}
            _ = stop.recv() => return,
        }
        self.world.set_phase(&self.key, self.id, Phase::Connected(device.clone()));
        self.emit(ConnectorEvent::Connected { phone: device.phone, display_name: device.name });
        self.world.release_held(&self.key, self.id);
        let _ = stop.recv().await;
    }

    async fn login(
        &self,
        login: LoginMethod,
        phone: &mut mpsc::UnboundedReceiver<PhoneAction>,
        stop: &mut mpsc::UnboundedReceiver<()>,
    ) -> Option<Device> {
        let t = &self.timings;
        match login {
            LoginMethod::Qr => {
                let mut earlier = Vec::new();
                for attempt in 1..=t.max_qr_codes {
                    let code = codes::qr_payload();
                    let ttl = Duration::from_millis(if attempt == 1 { t.qr_first_ttl_ms } else { t.qr_next_ttl_ms });
                    self.world.set_phase(
                        &self.key,
                        self.id,
                        Phase::Qr { current: code.clone(), earlier: earlier.clone() },
                    );
                    self.emit(ConnectorEvent::Qr { code: code.clone(), ttl });
                    tokio::select! {
                        Some(PhoneAction::Linked(d)) = phone.recv() => return Some(d),
                        _ = tokio::time::sleep(ttl) => earlier.push(code),
                        _ = stop.recv() => return None,
                    }
                }
            }
            LoginMethod::Code { phone: number } => {
                let code = codes::pairing_code();
                let ttl = Duration::from_millis(t.pairing_code_ttl_ms);
                self.world.set_phase(&self.key, self.id, Phase::Code { code: code.clone(), phone: number });
                self.emit(ConnectorEvent::PairingCode { code, ttl });
                tokio::select! {
                    Some(PhoneAction::Linked(d)) = phone.recv() => return Some(d),
                    _ = tokio::time::sleep(ttl) => {}
                    _ = stop.recv() => return None,
                }
            }
        }
        self.end(ConnectorEvent::LoginTimedOut);
        None
    }
}

struct SimConnection {
    world: SimWorld,
    key: SessionKey,
    id: u64,
    stop: mpsc::UnboundedSender<()>,
}

/// The same message id always maps to the same WhatsApp id, as a retried send would.
fn wa_id_for(message_id: &str) -> String {
    let digest = Sha256::digest(message_id.as_bytes());
    format!("3EB0{}", hex::encode_upper(&digest[..8]))
}

impl SimConnection {
    /// What the simulated network does with anything we send: refuse it while offline,
    /// else record it where `/api/v1/sim/.../network` shows it.
    /// Whether this connection's device is linked and the simulated network is up.
    fn online(&self) -> Result<(), ConnectorError> {
        if self.world.connected_device(&self.key, self.id).is_none()
            || self.world.network_down(&self.key)
            || self.world.is_silent(&self.key, self.id)
        {
            return Err(ConnectorError::NotConnected);
        }
        Ok(())
    }

    fn transmit(&self, record: NetworkRecord) -> Result<(), ConnectorError> {
        self.online()?;
        self.world.record(&self.key, record);
        Ok(())
    }

    /// A text to the number of another session on this simulated network reaches that session
    /// as an inbound message from this one's number, under the same WhatsApp id (as WhatsApp
    /// delivers it), once the network's send delay has passed: two gateways' numbers, or two
    /// sessions of one, writing to each other.
    fn deliver_to_session(&self, to: &Jid, message: &Outgoing, wa_id: &str) {
        let crate::connector::OutgoingBody::Text(text) = &message.body else { return };
        let Some((other, _)) = self.world.session_of_number(to).filter(|(k, _)| *k != self.key) else { return };
        let Some(me) = self.world.connected_device(&self.key, self.id) else { return };
        let Ok(from) = Jid::parse(&me.phone) else { return };
        let (world, text, wa_id) = (self.world.clone(), text.clone(), wa_id.to_owned());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(world.config().sent_delay_ms)).await;
            let sender =
                world::Sender { from: &from, group: None, lid: None, name: me.name.as_deref(), wa_id: Some(wa_id) };
            let details = crate::connector::Details::default();
            if let Err(e) = world.inbound(&other, sender, crate::model::MessageType::Text, &text, details) {
                tracing::debug!(session = %other, error = %e, "simulated delivery between sessions not made");
            }
        });
    }
}

#[async_trait]
impl Connection for SimConnection {
    async fn stored(&self, wa_ids: &[String], stored: bool) {
        self.world.stored(&self.key, self.id, wa_ids, stored);
    }

    async fn send(&self, to: &Jid, message: &Outgoing, message_id: &str) -> Result<String, ConnectorError> {
        let wa_id = wa_id_for(message_id);
        if matches!(message.body, crate::connector::OutgoingBody::Poll { .. }) {
            let secret = message
                .poll_secret
                .clone()
                .ok_or_else(|| ConnectorError::Rejected("a poll needs its secret".into()))?;
            self.world.remember_poll(&self.key, &wa_id, secret);
        }
        self.transmit(NetworkRecord::message(to, message, &wa_id))?;
        self.deliver_to_session(to, message, &wa_id);
        let invalid = self.world.is_invalid_number(&self.key, to);
        let (world, key, id) = (self.world.clone(), self.key.clone(), wa_id.clone());
        tokio::spawn(async move {
            let cfg = world.config().clone();
            tokio::time::sleep(Duration::from_millis(cfg.sent_delay_ms)).await;
            if invalid {
                let error = Some("recipient is not on WhatsApp".to_owned());
                return world.emit_to_current(&key, ConnectorEvent::Ack { wa_id: id, error });
            }
            world.emit_to_current(&key, ConnectorEvent::Ack { wa_id: id.clone(), error: None });
            tokio::time::sleep(Duration::from_millis(cfg.delivered_delay_ms)).await;
            world.emit_to_current(
                &key,
                ConnectorEvent::Receipt { wa_ids: vec![id.clone()], kind: ReceiptKind::Delivered },
            );
            tokio::time::sleep(Duration::from_millis(cfg.read_delay_ms)).await;
            world.emit_to_current(&key, ConnectorEvent::Receipt { wa_ids: vec![id], kind: ReceiptKind::Read });
        });
        Ok(wa_id)
    }

    async fn react(&self, chat: &Jid, target: &QuotedRef, emoji: &str) -> Result<(), ConnectorError> {
        self.transmit(NetworkRecord::Reaction {
            chat: chat.to_string(),
            target: target.wa_id.clone(),
            emoji: emoji.into(),
        })
    }

    async fn edit(&self, chat: &Jid, target: &QuotedRef, text: &str) -> Result<(), ConnectorError> {
        self.transmit(NetworkRecord::Edit { chat: chat.to_string(), target: target.wa_id.clone(), text: text.into() })
    }

    async fn revoke(&self, chat: &Jid, target: &QuotedRef) -> Result<(), ConnectorError> {
        self.transmit(NetworkRecord::Revoke { chat: chat.to_string(), target: target.wa_id.clone() })
    }

    async fn set_presence(&self, presence: Presence) -> Result<(), ConnectorError> {
        self.transmit(NetworkRecord::Presence { presence })
    }

    async fn contact(&self, jid: &Jid) -> Result<Option<ContactProfile>, ConnectorError> {
        self.online()?;
        if self.world.is_invalid_number(&self.key, jid) {
            return Ok(None);
        }
        Ok(Some(self.world.profile(&self.key, jid)))
    }

    /// Every number is on the simulated WhatsApp except those marked invalid
    /// (`sim.invalid_numbers`, `POST /api/v1/sim/sessions/{id}/invalid-numbers`).
    async fn check_numbers(&self, numbers: &[Jid]) -> Result<Vec<NumberStatus>, ConnectorError> {
        self.online()?;
        Ok(numbers
            .iter()
            .map(|jid| NumberStatus {
                jid: jid.clone(),
                exists: !self.world.is_invalid_number(&self.key, jid),
                lid: None,
                business: false,
            })
            .collect())
    }

    async fn chat_state(&self, chat: &Jid, state: ChatState) -> Result<(), ConnectorError> {
        self.transmit(NetworkRecord::ChatState {
            chat: chat.to_string(),
            state,
            at: crate::model::time::iso(chrono::Utc::now()),
        })
    }

    async fn download(&self, source: &MediaSource) -> Result<bytes::Bytes, ConnectorError> {
        self.online()?;
        // As WhatsApp's CDN answers for media it no longer serves.
        self.world
            .media(&self.key, &source.0)
            .ok_or_else(|| ConnectorError::Rejected("the media is no longer available".into()))
    }

    async fn mark_read(&self, _chat: &Jid, _unread: &[Unread]) -> Result<(), ConnectorError> {
        // The simulated contacts have no screen to show blue ticks on; being connected is all.
        match self.world.connected_device(&self.key, self.id) {
            Some(_) => Ok(()),
            None => Err(ConnectorError::NotConnected),
        }
    }

    async fn open_vote(
        &self,
        vote: &crate::connector::votes::SealedVote,
        poll: &crate::connector::votes::VotedPoll<'_>,
    ) -> Result<Vec<String>, ConnectorError> {
        votes::open(vote, poll)
    }

    /// A silent connection never answers, as a dead socket would not.
    async fn probe(&self) -> Result<(), ConnectorError> {
        if self.world.is_silent(&self.key, self.id) {
            std::future::pending::<()>().await;
        }
        self.online()
    }

    async fn close(&self) {
        let _ = self.stop.send(());
        self.world.detach(&self.key, self.id);
    }

    async fn logout(&self) {
        if let Some(device) = self.world.connected_device(&self.key, self.id) {
            self.world.revoke(&self.key, &device.token);
        }
        self.close().await;
    }
}
