-- The sender's LID (`<id>@lid`) where the network reports one beside the phone number.
ALTER TABLE messages ADD COLUMN from_lid TEXT;
