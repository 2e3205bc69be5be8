-- The send queue: a session's own pacing policy (JSON; NULL = the gateway's default), when
-- its device was linked (the warm-up cap counts from it), and when each outbound message was
-- handed to WhatsApp (the rate and the warm-up window are counted from these, so they hold
-- across a restart).
ALTER TABLE sessions ADD COLUMN send_policy TEXT;
ALTER TABLE sessions ADD COLUMN linked_at_ms INTEGER;
UPDATE sessions SET linked_at_ms = CAST((julianday(created_at) - 2440587.5) * 86400000 AS INTEGER)
    WHERE credentials IS NOT NULL;
ALTER TABLE messages ADD COLUMN handed_at_ms INTEGER;
CREATE INDEX messages_handed ON messages (tenant_id, session_id, handed_at_ms) WHERE handed_at_ms IS NOT NULL;
-- An inbound message is looked up among what the tenant's other sessions sent (a bot's
-- message arriving at another session keeps its WhatsApp id).
CREATE INDEX messages_sent_by_tenant ON messages (tenant_id, wa_message_id) WHERE direction = 'outbound';
