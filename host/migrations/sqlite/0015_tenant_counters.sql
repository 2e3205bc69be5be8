-- A tenant's message and chat totals, kept by triggers in the write that changes them, so
-- reading the stats costs the same however much history the tenant has.
ALTER TABLE tenants ADD COLUMN messages_sent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN messages_received INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN messages_failed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN chats INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN unread INTEGER NOT NULL DEFAULT 0;

UPDATE tenants SET
    messages_sent = (SELECT COUNT(*) FROM messages m
                     WHERE m.tenant_id = tenants.id AND m.direction = 'outbound' AND m.status != 'FAILED'),
    messages_received = (SELECT COUNT(*) FROM messages m WHERE m.tenant_id = tenants.id AND m.direction = 'inbound'),
    messages_failed = (SELECT COUNT(*) FROM messages m WHERE m.tenant_id = tenants.id AND m.status = 'FAILED'),
    chats = (SELECT COUNT(*) FROM chats c WHERE c.tenant_id = tenants.id),
    unread = (SELECT COALESCE(SUM(unread_count), 0) FROM chats c WHERE c.tenant_id = tenants.id);

CREATE TRIGGER messages_counted_in AFTER INSERT ON messages BEGIN
    UPDATE tenants SET
        messages_sent = messages_sent + (NEW.direction = 'outbound' AND NEW.status != 'FAILED'),
        messages_received = messages_received + (NEW.direction = 'inbound'),
        messages_failed = messages_failed + (NEW.status = 'FAILED')
    WHERE id = NEW.tenant_id;
END;

CREATE TRIGGER messages_counted_out AFTER DELETE ON messages BEGIN
    UPDATE tenants SET
        messages_sent = messages_sent - (OLD.direction = 'outbound' AND OLD.status != 'FAILED'),
        messages_received = messages_received - (OLD.direction = 'inbound'),
        messages_failed = messages_failed - (OLD.status = 'FAILED')
    WHERE id = OLD.tenant_id;
END;

CREATE TRIGGER messages_recounted AFTER UPDATE OF status, direction ON messages
WHEN OLD.status IS NOT NEW.status OR OLD.direction IS NOT NEW.direction BEGIN
    UPDATE tenants SET
        messages_sent = messages_sent - (OLD.direction = 'outbound' AND OLD.status != 'FAILED')
                                      + (NEW.direction = 'outbound' AND NEW.status != 'FAILED'),
        messages_received = messages_received - (OLD.direction = 'inbound') + (NEW.direction = 'inbound'),
        messages_failed = messages_failed - (OLD.status = 'FAILED') + (NEW.status = 'FAILED')
    WHERE id = NEW.tenant_id;
END;

CREATE TRIGGER chats_counted_in AFTER INSERT ON chats BEGIN
    UPDATE tenants SET chats = chats + 1, unread = unread + NEW.unread_count WHERE id = NEW.tenant_id;
END;

CREATE TRIGGER chats_counted_out AFTER DELETE ON chats BEGIN
    UPDATE tenants SET chats = chats - 1, unread = unread - OLD.unread_count WHERE id = OLD.tenant_id;
END;

CREATE TRIGGER chats_unread_recounted AFTER UPDATE OF unread_count ON chats
WHEN OLD.unread_count IS NOT NEW.unread_count BEGIN
    UPDATE tenants SET unread = unread - OLD.unread_count + NEW.unread_count WHERE id = NEW.tenant_id;
END;
