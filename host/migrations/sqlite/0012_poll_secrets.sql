-- The secret a poll was sent with (ours, chosen when it first goes out, or a contact's, as
-- their message carried it). Votes on the poll arrive sealed with it; never shown by the API.
ALTER TABLE messages ADD COLUMN poll_secret BLOB;
