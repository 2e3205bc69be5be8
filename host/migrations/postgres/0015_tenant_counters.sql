-- A tenant's message and chat totals, kept by triggers in the write that changes them, so
-- reading the stats costs the same however much history the tenant has.
ALTER TABLE tenants ADD COLUMN messages_sent BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN messages_received BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN messages_failed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN chats BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN unread BIGINT NOT NULL DEFAULT 0;

UPDATE tenants SET
    messages_sent = (SELECT COUNT(*) FROM messages m
                     WHERE m.tenant_id = tenants.id AND m.direction = 'outbound' AND m.status != 'FAILED'),
    messages_received = (SELECT COUNT(*) FROM messages m WHERE m.tenant_id = tenants.id AND m.direction = 'inbound'),
    messages_failed = (SELECT COUNT(*) FROM messages m WHERE m.tenant_id = tenants.id AND m.status = 'FAILED'),
    chats = (SELECT COUNT(*) FROM chats c WHERE c.tenant_id = tenants.id),
    unread = (SELECT COALESCE(SUM(unread_count), 0) FROM chats c WHERE c.tenant_id = tenants.id);

-- The same triggers as on SQLite, as PL/pgSQL functions: a flag counts as 1 when true.
CREATE FUNCTION wagate_message_counts(dir TEXT, st TEXT, sign BIGINT, tenant TEXT) RETURNS VOID AS $$
    UPDATE tenants SET
        messages_sent = messages_sent + sign * (dir = 'outbound' AND st != 'FAILED')::INT,
        messages_received = messages_received + sign * (dir = 'inbound')::INT,
        messages_failed = messages_failed + sign * (st = 'FAILED')::INT
    WHERE id = tenant;
$$ LANGUAGE SQL;

CREATE FUNCTION wagate_messages_counted() RETURNS TRIGGER AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM wagate_message_counts(OLD.direction, OLD.status, -1, OLD.tenant_id);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        PERFORM wagate_message_counts(NEW.direction, NEW.status, 1, NEW.tenant_id);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER messages_counted_in AFTER INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION wagate_messages_counted();
CREATE TRIGGER messages_counted_out AFTER DELETE ON messages
    FOR EACH ROW EXECUTE FUNCTION wagate_messages_counted();
CREATE TRIGGER messages_recounted AFTER UPDATE OF status, direction ON messages
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.direction IS DISTINCT FROM NEW.direction)
    EXECUTE FUNCTION wagate_messages_counted();

CREATE FUNCTION wagate_chats_counted() RETURNS TRIGGER AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE tenants SET chats = chats + 1, unread = unread + NEW.unread_count WHERE id = NEW.tenant_id;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE tenants SET chats = chats - 1, unread = unread - OLD.unread_count WHERE id = OLD.tenant_id;
    ELSE
        UPDATE tenants SET unread = unread - OLD.unread_count + NEW.unread_count WHERE id = NEW.tenant_id;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER chats_counted_in AFTER INSERT ON chats
    FOR EACH ROW EXECUTE FUNCTION wagate_chats_counted();
CREATE TRIGGER chats_counted_out AFTER DELETE ON chats
    FOR EACH ROW EXECUTE FUNCTION wagate_chats_counted();
CREATE TRIGGER chats_unread_recounted AFTER UPDATE OF unread_count ON chats
    FOR EACH ROW WHEN (OLD.unread_count IS DISTINCT FROM NEW.unread_count)
    EXECUTE FUNCTION wagate_chats_counted();
